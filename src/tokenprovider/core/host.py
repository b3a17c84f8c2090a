"""`Host`: where a provider's tokens may be sent."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from tokenprovider._masking import without_userinfo
from tokenprovider._untrusted import quote
from tokenprovider.errors import InvalidHostError

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Host:
    """A scheme and domain (optionally with a port) that tokens may be sent to.

    ``Host("api.example.com")``, ``Host("127.0.0.1:8080", "http")`` and
    ``Host("https://api.example.com")`` are all accepted; a URL's scheme wins over the
    default. A path, query, fragment or user info is rejected, since a token is bound
    to an origin, not to a path. A `Host` cannot be changed once built: it is a
    dictionary key, and a provider's promise of where its tokens may go.
    """

    __slots__ = ("_origin", "_url", "_usual_from", "_usual_until", "domain", "prefixes", "scheme")

    #: ``https`` or ``http``.
    scheme: str
    #: The domain, with its port if one was given, lower-cased and in IDNA form.
    domain: str
    #: URL starts that are certainly on this host: ``scheme://domain/`` and its spelling
    #: with or without the default port. A prepared request's URL always has a path,
    #: so one ``url.startswith(prefixes)`` settles the common case.
    prefixes: tuple[str, ...]
    _url: str
    _origin: tuple[str, str, int]
    _usual_from: str
    _usual_until: str

    def __init__(self, domain: str, scheme: str | None = "https") -> None:
        if hasattr(self, "_url"):  # __init__ called again on a built Host
            raise AttributeError("a Host cannot be changed (built already); build a new one")
        for name, value in _fields(domain, scheme).items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Host cannot be changed (setting {name!r}); build a new one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Host cannot be changed (deleting {name!r}); build a new one")

    def __reduce__(self) -> tuple[type[Host], tuple[str]]:
        return (type(self), (self._url,))  # copied and pickled by its URL, which parses back

    @classmethod
    def coerce(cls, value: Host | str) -> Host:
        """Return ``value`` as a `Host`; a string is parsed as a domain or URL."""
        return value if isinstance(value, Host) else cls(value)

    @property
    def url(self) -> str:
        """The host as a base URL, for example ``https://api.example.com``."""
        return self._url

    def matches(self, url: str) -> bool:
        """Whether ``url`` is on this host: same scheme, domain and (effective) port."""
        return url.startswith(self.prefixes) or self._origin_of(url) == self._origin

    @staticmethod
    def _origin_of(url: str) -> tuple[str, str | None, int | None] | None:
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            port = parts.port
            hostname = parts.hostname
            if hostname is not None and not hostname.isascii():
                hostname = _idna(hostname, "")
            return (scheme, hostname, _DEFAULT_PORTS.get(scheme) if port is None else port)
        except ValueError:  # InvalidHostError is one
            return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Host) and self._origin == other._origin

    def __hash__(self) -> int:
        return hash(self._origin)

    def __repr__(self) -> str:
        return f"Host({self.domain!r}, scheme={self.scheme!r})"

    def __str__(self) -> str:
        return self._url


def _fields(domain: str, scheme: str | None) -> dict[str, object]:
    """The attributes of ``Host(domain, scheme)``; `InvalidHostError` if it is not one."""
    if not isinstance(domain, str) or not domain.strip():
        raise InvalidHostError(
            f"host domain must be a non-empty string such as 'api.example.com', got {domain!r}"
        )
    if "@" in domain:  # user info, perhaps a password: never quoted
        raise InvalidHostError(
            f"host {_shown(without_userinfo(domain, bare_host=True))} must be a domain with an "
            "optional port, without a user name or password; give credentials to the "
            "provider instead"
        )
    shown = _shown(domain)
    text = domain.strip()
    if "://" in text:
        url_scheme, _, text = text.partition("://")
        scheme = url_scheme
    scheme = (scheme or "https").lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidHostError(
            f"host scheme must be 'https' or 'http', got {_shown(scheme)} (for {shown})"
        )
    text = text.rstrip("/")
    try:
        parts = urlsplit(f"{scheme}://{text}")
    except ValueError as exc:  # unbalanced brackets, a bad IPv6 literal, NFKC tricks
        raise InvalidHostError(f"host {shown} is not a valid domain: {exc}") from None
    # urlsplit gives an empty query or fragment for a bare "?" or "#"; refuse those too.
    if parts.path or "?" in text or "#" in text:
        raise InvalidHostError(_with_path(domain.strip(), parts.path))
    try:
        port = parts.port
    except ValueError:
        raise InvalidHostError(f"host {shown} has an invalid port") from None
    if port == 0:  # not a usable port; `port or default` below would turn it into 443
        raise InvalidHostError(f"host {shown} has an invalid port")
    if not parts.hostname or any(ch.isspace() for ch in text):
        raise InvalidHostError(f"host {shown} has no valid domain name")
    hostname, netloc = parts.hostname, parts.netloc.lower()
    if "[" in netloc and not _is_ipv6(hostname):  # Python 3.10's urlsplit lets it pass
        raise InvalidHostError(f"host {shown} has brackets around what is not an IPv6 address")
    if not text.isascii():  # an internationalised name: matched in its IDNA form
        ascii_name = _idna(hostname, shown)
        netloc = netloc.replace(hostname, ascii_name, 1)
        hostname = ascii_name
    bare = netloc.rsplit(":", 1)[0] if parts.port else netloc
    default = f"{bare}:{_DEFAULT_PORTS[scheme]}"
    usual_port = port in (None, _DEFAULT_PORTS[scheme])
    netlocs = {netloc, bare, default} if usual_port else {netloc}
    # The usual start, ``scheme://domain/`` as requests spells it (no default port):
    # a URL starts with it exactly when ``_usual_from <= url < _usual_until`` (the
    # bound is the start with its last "/" raised to "0"). Two string comparisons
    # cost less than a call to str.startswith, for the requests hot path.
    usual = f"{scheme}://{bare if usual_port else netloc}/"
    return {
        "scheme": scheme,
        "domain": netloc,
        "_url": f"{scheme}://{netloc}",
        "_origin": (scheme, hostname, port or _DEFAULT_PORTS[scheme]),
        "prefixes": tuple(sorted(f"{scheme}://{n}/" for n in netlocs)),
        "_usual_from": usual,
        "_usual_until": usual[:-1] + "0",
    }


def _shown(value: str) -> str:
    """A setting's value for a message: its repr, cut short."""
    return quote(repr(value), 120)


def _with_path(given: str, path: str) -> str:
    """The message for a domain ``given`` with a path (``path``), a query or a fragment:
    it quotes what was given up to a query or fragment, which may hold a secret."""
    cut = min((at for at in (given.find("?"), given.find("#")) if at >= 0), default=-1)
    drop = [f"the path {_shown(path)}"] if path else []
    if cut >= 0:
        given = given[:cut]
        drop.append("the query or fragment (not shown: it may hold a secret)")
    return (
        f"host {_shown(given)} must be a domain with an optional port, without a path, query "
        f"or fragment; drop {' and '.join(drop)}, for example 'api.example.com' or "
        "'127.0.0.1:8080'"
    )


def _idna(hostname: str, shown: str) -> str:
    """``hostname`` in the IDNA (``xn--``) form `requests` and httpx send, by the same
    rules (IDNA 2008 with UTS #46 mapping, from the ``idna`` package)."""
    import idna  # noqa: PLC0415 - only for internationalised names

    try:
        return str(idna.encode(hostname, uts46=True).decode("ascii"))
    except idna.IDNAError as exc:
        raise InvalidHostError(
            f"host {shown} is not a valid internationalised domain name: {exc}"
        ) from None


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
