"""Where an OAuth server's endpoints are, and which URLs may be one.

`discover` reads the server's metadata (RFC 8414, then OpenID Connect discovery) from the
host's well-known documents, following a few safe redirects, and keeps the endpoints it
publishes (`ServerMetadata`). `endpoint_problem` holds the rules an endpoint URL must
follow, for configured and discovered URLs alike: no user info or fragment, plain http
only to loopback from a loopback http host.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urljoin, urlsplit

from tokenprovider import _untrusted as untrusted
from tokenprovider._masking import masked_url, without_userinfo
from tokenprovider._value import Value, init
from tokenprovider.errors import DiscoveryError
from tokenprovider.providers._oauth_http import Failure, FixedAuthorization, json_object

if TYPE_CHECKING:
    from tokenprovider.core.host import Host
    from tokenprovider.providers._oauth_http import OAuthCalls

logger = logging.getLogger("tokenprovider")

#: Where the server's metadata is looked up, in order.
WELL_KNOWN_PATHS = (
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
)
#: Redirects followed while fetching a discovery document; the token request follows none.
MAX_REDIRECTS = 3
#: The endpoints read from the metadata besides the token endpoint (RFC 8414 §2).
OTHER_ENDPOINTS = (
    "authorization_endpoint",
    "device_authorization_endpoint",
    "revocation_endpoint",
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class ServerMetadata(Value):
    """The endpoints a server publishes, and the document they came from (``where``).
    An endpoint the document lacks, or names with a URL that may not be used, is None."""

    __match_args__ = (
        "where",
        "token_endpoint",
        "issuer",
        "authorization_endpoint",
        "device_authorization_endpoint",
        "revocation_endpoint",
    )
    where: str
    token_endpoint: str
    issuer: str | None
    authorization_endpoint: str | None
    device_authorization_endpoint: str | None
    revocation_endpoint: str | None

    def __init__(  # noqa: PLR0917 - the fields, in order
        self,
        where: str,
        token_endpoint: str,
        issuer: str | None = None,
        authorization_endpoint: str | None = None,
        device_authorization_endpoint: str | None = None,
        revocation_endpoint: str | None = None,
    ) -> None:
        init(
            self,
            where=where,
            token_endpoint=token_endpoint,
            issuer=issuer,
            authorization_endpoint=authorization_endpoint,
            device_authorization_endpoint=device_authorization_endpoint,
            revocation_endpoint=revocation_endpoint,
        )


def discover(host: Host, calls: OAuthCalls) -> ServerMetadata:
    """The metadata of ``host``'s server: the first well-known document that names a
    token endpoint. `DiscoveryError` if none does, or if the one it names may not be used."""
    tried = []
    for path in WELL_KNOWN_PATHS:
        url = host.url + path
        found = _document(host, calls, url)
        if isinstance(found, str):
            tried.append(f"{url} ({found})")
            continue
        where, document = found
        endpoint = document.get("token_endpoint")
        if not isinstance(endpoint, str):
            tried.append(f"{url} (no token_endpoint)")
            continue
        # A query is allowed here (RFC 6749 §3.2): published metadata holds no secret.
        problem = endpoint_problem(endpoint, host, allow_query=True)
        if problem:
            raise DiscoveryError(f"token_endpoint from {quoted_url(where)} {problem}")
        logger.debug("discovered token endpoint %s from %s", endpoint, quoted_url(where))
        others = {name: _other_endpoint(document, name, host, where) for name in OTHER_ENDPOINTS}
        issuer = _issuer(document.get("issuer"), host, where)
        return ServerMetadata(where, endpoint, issuer, **others)
    raise DiscoveryError(
        f"could not discover the token endpoint of {host}: tried {'; '.join(tried)}. "
        "Set token_url to the server's token endpoint"
    )


def _issuer(value: object, host: Host, where: str) -> str | None:
    """The metadata's ``issuer``, or None if it has none this client may sign for: it
    must be a URL of the host whose well-known document this is (RFC 8414 §3.3), or a
    host could have a client sign assertions for another server (a mix-up)."""
    if value is None:
        return None
    same_origin = isinstance(value, str) and len(value) <= 2048 and host.matches(value)
    if not same_origin or not isinstance(value, str) or not value.isprintable():
        # Said at DEBUG: it matters only to an "issuer" audience, whose error says it.
        logger.debug(
            "ignoring the issuer in %s: it is not a URL of %s (RFC 8414 §3.3)",
            quoted_url(where),
            host,
        )
        return None
    return value


def _other_endpoint(document: dict[str, Any], name: str, host: Host, where: str) -> str | None:
    """Endpoint ``name`` of ``document``, or None (with a warning if it may not be used)."""
    value = document.get(name)
    if value is None:
        return None
    problem = endpoint_problem(value, host, allow_query=True)
    if problem:
        logger.warning("ignoring %s from %s, which %s", name, quoted_url(where), problem)
        return None
    assert isinstance(value, str)  # endpoint_problem refuses anything else
    return value


def _document(host: Host, calls: OAuthCalls, url: str) -> tuple[str, dict[str, Any]] | str:
    """The metadata document at ``url`` with the URL it came from, following at most
    `MAX_REDIRECTS` allowed redirects; otherwise why there is none."""
    where = url
    for _ in range(MAX_REDIRECTS + 1):
        answer = calls.get(
            where,
            headers={"Accept": "application/json"},
            auth=FixedAuthorization(None),  # and none from ~/.netrc
        )
        if isinstance(answer, Failure):
            if answer.kind == "deadline":
                raise DiscoveryError(
                    f"could not discover the token endpoint of {host}: {answer.detail} "
                    f"while reading {quoted_url(where)} (retry deadline)"
                )
            return answer.detail
        location = answer.headers.get("Location")
        if answer.status not in _REDIRECT_STATUSES or location is None:
            if answer.status != 200:
                return f"HTTP {answer.status}"
            document, reason = json_object(answer.body)
            return (where, document) if document is not None else f"not a JSON object: {reason}"
        target = _resolve(where, location)
        problem = _redirect_problem(where, target, host)
        if problem:
            raise DiscoveryError(
                f"discovery document {quoted_url(where)} redirected to {quoted_url(target)}, "
                f"which is refused: {problem}"
            )
        where = target
    return f"more than {MAX_REDIRECTS} redirects"


def endpoint_problem(url: object, host: Host, *, allow_query: bool) -> str | None:
    """Why ``url`` may not be a token endpoint for ``host``, or None if it may.

    User info and a fragment are refused, and a query when ``allow_query`` is false (the
    RFC allows one, but a configured ``token_url`` would show it in `repr()` and errors).
    Plain http is allowed only to a loopback address, and only when ``host`` itself is
    configured with http. The answer quotes the URL as given, with its user info, query
    and fragment masked (`masked_url`).
    """
    if not isinstance(url, str):
        return f"must be an http(s) URL, got {url!r}"
    shown = repr(untrusted.quote(masked_url(url)))
    # Any "@", not only one in the parsed netloc: urlsplit ends the netloc at the first "/",
    # "?" or "#", so a password holding one of those moves the "@" into the path, the query
    # or the fragment (https://svc:pa/ss@login.example.com/token has the netloc "svc:pa").
    if "@" in url:
        return (
            "must not contain a user name or password; pass credentials as "
            f"client_id/client_secret (got {shown})"
        )
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        return f"is not a valid URL: {shown}; expected one like 'https://login.example.com/token'"
    if "#" in url or (not allow_query and "?" in url):  # also a bare "?" or "#"
        return (
            f"must not contain a query string or fragment, got {shown}; "
            "the token request sends its parameters in the body (use extra_params for more)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http(s) URL, got {shown}"
    if not _has_valid_port(parts):
        return f"has an invalid port: {shown}"
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return f"must not contain spaces or control characters, got {shown}"
    return _plain_http_problem(parts, host, shown)


def _plain_http_problem(parts: SplitResult, host: Host, shown: str) -> str | None:
    """Why the http(s) URL split into ``parts`` (``shown``: quoted for the message) may not
    be used from ``host``."""
    if parts.scheme != "http":
        return None
    if host.scheme == "https":
        hint = (
            '; for a test server on loopback, give the host with scheme "http" '
            '(its URL, such as LocalOAuthServer.url, or Host(domain, "http"))'
            if is_loopback(parts.hostname)
            else ""
        )
        return (
            f"{shown} uses plain http while {host} uses https; "
            f"client credentials must not be sent in clear{hint}"
        )
    if not is_loopback(parts.hostname):
        return (
            f"{shown} uses plain http to a host that is not loopback; "
            "only 127.0.0.1, ::1 and localhost may be reached over http: use https"
        )
    return None


def _redirect_problem(source: str, target: str, host: Host) -> str | None:
    """Why a discovery request to ``source`` may not follow a redirect to ``target``:
    only same-scheme redirects and upgrades to https, and plain http as for endpoints."""
    try:
        parts = urlsplit(target)
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname or not _has_valid_port(parts):
        return "it is not a valid http(s) URL"
    if parts.scheme == "http" and urlsplit(source).scheme == "https":
        return "a redirect from https to plain http is a downgrade"
    return _plain_http_problem(parts, host, repr(quoted_url(target)))


def _has_valid_port(parts: SplitResult) -> bool:
    """Whether the port of ``parts``, if any, is a number from 1 to 65535."""
    try:
        return parts.port != 0
    except ValueError:
        return False


def _resolve(base: str, location: str) -> str:
    """``location`` (a Location header) resolved against ``base``; itself if that fails."""
    try:
        return urljoin(base, location)
    except ValueError:
        return location


def is_loopback(hostname: str | None) -> bool:
    """Whether ``hostname`` is localhost, an address in 127.0.0.0/8, or ::1."""
    if not hostname:
        return False
    name = hostname.rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def quoted_url(url: str) -> str:
    """A URL from a server, fit for a message: without user info, cut short and escaped."""
    return untrusted.quote(without_userinfo(url))
