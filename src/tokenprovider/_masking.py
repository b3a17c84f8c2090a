"""The one masking rule, used by `repr()`, error messages and the CLI.

- a public attribute (``name``) is shown;
- a private attribute (``_name``) is shown only as set or not set;
- a hidden attribute is not shown: one a class names in its ``_hidden_attributes``
  (a frozenset of attribute names, gathered along the MRO), and any ``__name`` (which
  Python mangles to ``_Class__name``: the seed's rule, kept for integrators).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
import sys
import urllib.parse
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tokenprovider.secret_refs import reference_prefix

# The patterns below are compiled on first use (`re` keeps them): compiling them all
# would take a good part of this module's import time.

#: Setting names that hold secrets whatever provider they belong to.
_SECRET_NAME = (
    r"secret|passw|passphrase|token|jwt|credential|private_?key|api_?key|cache_?key|"
    r"encryption_?key|_pass$|^pass$"
)
#: Suffixes that mark a locator (where a secret or token comes from), not a secret.
_LOCATOR_SUFFIXES = ("_url", "_uri", "_arn", "_ssm_key", "_path", "_file", "_dir")
#: Settings that name a kind of token, not a token.
_TOKEN_TYPE_SETTINGS = frozenset(
    {"subject_token_type", "actor_token_type", "requested_token_type", "token_type"}
)
#: Settings whose value says where a token comes from (an assertion source:
#: ``file:PATH``, ``github-actions``, ``profile:NAME``), shown when it has that form.
SOURCE_SETTINGS = frozenset({"assertion", "subject_token", "actor_token"})
_SOURCE_FORM = r"github-actions|[a-z][a-z0-9_-]*:\S+"


class Masked(str):
    """A placeholder shown instead of a private value; its repr is the bare text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


#: ``extra_params`` keys whose values are shown by ``config show``: well-known public
#: request parameters. Every other ``extra_params`` value (``client_assertion``...) is masked.
PUBLIC_PARAMETERS = frozenset({"audience", "resource", "scope", "requested_token_type"})

SET = Masked("<set>")
NOT_SET = Masked("<not set>")
REDACTED = "***"


#: The class attribute in which a class declares the attributes it keeps out of sight.
HIDDEN_DECLARATION = "_hidden_attributes"


def _hidden_prefixes(cls: type) -> tuple[str, ...]:
    """Name-mangling prefixes of every class in ``cls``'s MRO, plus a bare ``__``."""
    prefixes = {f"_{klass.__name__.lstrip('_')}__" for klass in cls.__mro__}
    return ("__", *sorted(prefixes))


def hidden_names(cls: type) -> frozenset[str]:
    """The attribute names that ``cls`` and its bases declare hidden."""
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(klass.__dict__.get(HIDDEN_DECLARATION, ()))
    return frozenset(names)


def visible_attributes(obj: Any) -> dict[str, Any]:
    """The attributes of ``obj`` that may be displayed, masked by the rule above.

    Private attributes are returned under their name without the leading underscore,
    with the value `SET` or `NOT_SET`.
    """
    cls = type(obj)
    prefixes, declared = _hidden_prefixes(cls), hidden_names(cls)
    shown: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if name in declared or name.startswith(prefixes):
            continue
        if name.startswith("_"):
            shown[name[1:]] = NOT_SET if value is None else SET
        else:
            shown[name] = value
    return shown


def masked_repr(obj: Any) -> str:
    """``ClassName(attr=value, ...)`` with `visible_attributes`."""
    parts = [f"{name}={value!r}" for name, value in visible_attributes(obj).items()]
    return f"{type(obj).__name__}({', '.join(parts)})"


def is_secret_key(name: str) -> bool:
    """Whether a setting called ``name`` looks like it holds a secret (``client_secret``,
    ``password``, ``refresh_token``, ``jwt``...); ``token_url`` and other locators do not."""
    lowered = name.lower()
    if lowered in _TOKEN_TYPE_SETTINGS:
        return False
    return bool(re.search(_SECRET_NAME, lowered)) and not lowered.endswith(_LOCATOR_SUFFIXES)


def takes_reference(name: str) -> bool:
    """Whether a setting called ``name`` holds a secret, so that a value starting like a
    reference with an unknown prefix (``envv:NAME``) is a mistake; a source setting
    (`SOURCE_SETTINGS`) names a source instead (``profile:NAME``, a plugin's scheme)."""
    return is_secret_key(name) and name not in SOURCE_SETTINGS


def is_source_setting(name: str, value: object) -> bool:
    """Whether a setting called ``name`` whose value is ``value`` names an assertion
    source (`SOURCE_SETTINGS`), which may be shown; any other value there is taken for a
    token written in by mistake, and hidden."""
    return (
        name in SOURCE_SETTINGS
        and isinstance(value, str)
        and re.fullmatch(_SOURCE_FORM, value.strip()) is not None
    )


def is_public_parameter(name: str) -> bool:
    """Whether an ``extra_params`` key is a known public parameter (`PUBLIC_PARAMETERS`),
    shown although ``requested_token_type`` looks like a secret's name."""
    return name.lower() in PUBLIC_PARAMETERS


_USERINFO = r"((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)[^\s]*@"


def without_userinfo(text: str, *, bare_host: bool = False) -> str:
    """``text`` with the user name and password of every URL in it shown as ``***@``
    (``https://svc:pa/ss@host`` and ``//u:p@host`` become ``https://***@host`` and
    ``//***@host``: a password may hold ``/``, so everything up to the last ``@`` goes).
    With ``bare_host``, ``text`` is a host that may lack a scheme (``svc:pw@host``)."""
    if "@" not in text:
        return text
    if bare_host and "//" not in text:
        return "***@" + text.rpartition("@")[2]
    return re.sub(_USERINFO, r"\1***@", text)


#: A scheme and ``//``, ``//`` alone, or ``http:`` / ``https:``; ``user:password@host`` has
#: none (``user:`` is not one).
_SCHEME = r"(?i)(?:[A-Za-z][A-Za-z0-9+.-]*:)?//|https?:"


def masked_url(url: str) -> str:
    """``url`` as given, fit to quote in an error about it or to show: its user name and
    password shown as ``***@`` (everything up to the last ``@``, as in `without_userinfo`,
    also in ``user:password@host`` without a scheme), its query as ``?***`` and its
    fragment as ``#***``, which may hold secrets too."""
    if "@" in url:
        scheme = re.match(_SCHEME, url)
        url = (scheme[0] if scheme else "") + "***@" + url.rpartition("@")[2]
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    if 0 <= cut < len(url) - 1:
        url = url[: cut + 1] + REDACTED
    return url


#: Secrets (and forms of them) shorter than this are redacted only where they stand alone
#: (`redact`), and a provider given one warns (`warn_about_literal_secret`).
SHORT_SECRET = 8
#: Characters that join letters and digits into one run (``127.0.0.1``, ``x-request-id``,
#: ``a%2F``): a short secret inside such a run is part of other text, not the secret.
_JOINERS = frozenset("-.~%")


def secret_forms(secrets: Iterable[str | None]) -> list[str]:
    """Each secret as it may appear in text a server echoes: as is, JSON-escaped,
    repr-escaped, percent-encoded (path-safe and fully) and form-encoded; longest first,
    so that `redact` never lets a shorter form break up a longer one."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms.update(
                (
                    secret,
                    json.dumps(secret)[1:-1],
                    json.dumps(secret, ensure_ascii=False)[1:-1],
                    repr(secret)[1:-1],
                    urllib.parse.quote(secret),
                    urllib.parse.quote(secret, safe=""),
                    urllib.parse.quote_plus(secret),
                )
            )
    forms.discard("")
    return sorted(forms, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace each secret (or form of one: see `secret_forms`) in ``text`` with ``***``, in
    the order given. One of at least `SHORT_SECRET` characters is replaced wherever it
    occurs; a shorter one only where it stands alone, so that the secret ``s`` turns
    ``client_secret=s`` into ``client_secret=***`` but leaves ``host`` alone: replacing every
    "s" would garble the text and, by the pattern of stars, reveal the secret. A short
    one with no letter or digit (``/``, ``" "``) is not redacted at all: it cannot be told
    from the punctuation around it (providers warn about short secrets when built)."""
    for secret in secrets:
        if not secret:
            continue
        if len(secret) >= SHORT_SECRET:
            text = text.replace(secret, REDACTED)
        elif secret in text and any(_is_word(character) for character in secret):
            text = _redact_standalone(text, secret)
    return text


def _redact_standalone(text: str, secret: str) -> str:
    """``text`` with each occurrence of ``secret`` that is not part of a longer run of
    letters, digits and ``_`` (joined by ``-``, ``.``, ``~`` or ``%``) replaced."""
    parts: list[str] = []
    start = 0
    found = text.find(secret)
    while found >= 0:
        end = found + len(secret)
        before, after = text[max(0, found - 2) : found], text[end : end + 2][::-1]
        if _joins(before, secret[0]) or _joins(after, secret[-1]):
            found = text.find(secret, found + 1)
            continue
        parts += (text[start:found], REDACTED)
        start = end
        found = text.find(secret, end)
    parts.append(text[start:])
    return "".join(parts)


def _is_word(character: str) -> bool:
    return character.isalnum() or character == "_"


def _joins(outside: str, edge: str) -> bool:
    """Whether the (up to) two characters ``outside`` a match, nearest last, continue the
    run that the match's ``edge`` character belongs to."""
    if not outside:
        return False
    nearest = outside[-1]
    if _is_word(edge):
        return _is_word(nearest) or (
            nearest in _JOINERS and len(outside) == 2 and _is_word(outside[0])
        )
    return edge in _JOINERS and _is_word(nearest)


#: While the configuration builder constructs a provider (`built_from_configuration`): how
#: to name where one of its settings was written. Per thread and per task.
_CONFIGURED: contextvars.ContextVar[Callable[[str], str] | None] = contextvars.ContextVar(
    "tokenprovider_configured", default=None
)


@contextlib.contextmanager
def built_from_configuration(where: Callable[[str], str]) -> Iterator[None]:
    """Mark what is constructed inside as built from configuration; ``where(setting)``
    names the setting and the file and line (or variable) it came from. Used by
    `warn_about_literal_secret`; thread-safe (a `contextvars.ContextVar`)."""
    token = _CONFIGURED.set(where)
    try:
        yield
    finally:
        _CONFIGURED.reset(token)


def warn_about_literal_secret(value: object, setting: str, owner: str) -> None:
    """Warn (`UserWarning`, pointing at the code that built ``owner``) about a literal
    secret ``value`` that is shorter than `SHORT_SECRET` characters, or that is written
    like a secret reference (``env:NAME``...) in Python code, where it is used as it is.
    A provider built from configuration (`built_from_configuration`) gets no warning for
    the latter (there such a value is a reference, or written ``literal:...`` on purpose),
    and its short-secret warning names the setting's file and line. Never quotes the value
    beyond a reference's prefix."""
    if not isinstance(value, str) or not value:
        return
    configured = _CONFIGURED.get()
    prefix = reference_prefix(value)
    if prefix is not None:
        if configured is not None:
            return
        shown = prefix + "..."  # the rest may be the secret itself: never quoted
        message = (
            f"{owner}: {setting} {shown!r} is a str, so it is used as the literal secret, "
            f"not read from where it points; to read it, pass SecretReference({shown!r})"
        )
    elif len(value) < SHORT_SECRET:
        named = setting if configured is None else configured(setting)
        message = (
            f"{owner}: {named} is shorter than {SHORT_SECRET} characters: it is easy to "
            "guess, and messages can redact it only where it stands alone (not inside other "
            "words); use a longer secret"
        )
    else:
        return
    warnings.warn(message, UserWarning, stacklevel=_caller_outside_package())


def _caller_outside_package() -> int:
    """The ``stacklevel`` that makes a warning issued by this function's caller point at
    the first frame outside tokenprovider (the code that built the provider, or that
    called `load_provider`)."""
    level = 1
    frame = sys._getframe(1)
    while frame.f_back is not None:
        name = frame.f_globals.get("__name__", "")
        if name != "tokenprovider" and not name.startswith("tokenprovider."):
            break
        frame = frame.f_back
        level += 1
    return level
