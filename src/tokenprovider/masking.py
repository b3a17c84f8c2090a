"""The one masking rule, used by `repr()`, error messages and the CLI.

- a public attribute (``name``) is shown;
- a private attribute (``_name``) is shown only as set or not set;
- a hidden attribute (``__name``, name-mangled by Python to ``_Class__name``) is not shown.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

#: Setting names that hold secrets whatever provider they belong to.
_SECRET_NAME = re.compile(
    r"secret|passw|passphrase|token|jwt|credential|private_?key|api_?key|cache_?key|"
    r"encryption_?key|_pass$|^pass$"
)
#: Suffixes that mark a locator (where a secret or token comes from), not a secret.
_LOCATOR_SUFFIXES = ("_url", "_uri", "_arn", "_ssm_key", "_path", "_file", "_dir")


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


def _hidden_prefixes(cls: type) -> tuple[str, ...]:
    """Name-mangling prefixes of every class in ``cls``'s MRO, plus a bare ``__``."""
    prefixes = {f"_{klass.__name__.lstrip('_')}__" for klass in cls.__mro__}
    return ("__", *sorted(prefixes))


def visible_attributes(obj: Any) -> dict[str, Any]:
    """The attributes of ``obj`` that may be displayed, masked by the rule above.

    Private attributes are returned under their name without the leading underscore,
    with the value `SET` or `NOT_SET`.
    """
    hidden = _hidden_prefixes(type(obj))
    shown: dict[str, Any] = {}
    for name, value in vars(obj).items():
        if name.startswith(hidden):
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
    return bool(_SECRET_NAME.search(lowered)) and not lowered.endswith(_LOCATOR_SUFFIXES)


def is_public_parameter(name: str) -> bool:
    """Whether an ``extra_params`` key is a known public parameter (`PUBLIC_PARAMETERS`),
    shown although ``requested_token_type`` looks like a secret's name."""
    return name.lower() in PUBLIC_PARAMETERS


_USERINFO = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)[^\s]*@")


def without_userinfo(text: str, *, bare_host: bool = False) -> str:
    """``text`` with the user name and password of every URL in it shown as ``***@``
    (``https://svc:pa/ss@host`` and ``//u:p@host`` become ``https://***@host`` and
    ``//***@host``: a password may hold ``/``, so everything up to the last ``@`` goes).
    With ``bare_host``, ``text`` is a host that may lack a scheme (``svc:pw@host``)."""
    if "@" not in text:
        return text
    if bare_host and "//" not in text:
        return "***@" + text.rpartition("@")[2]
    return _USERINFO.sub(r"\1***@", text)


#: Secrets shorter than this are not redacted: replacing every "s" in a message would
#: garble it and, by the pattern of stars, reveal the secret it means to hide.
MIN_REDACTED = 4


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
    """Replace every occurrence of each secret in ``text`` with ``***`` (secrets of at least
    `MIN_REDACTED` characters: see there)."""
    for secret in secrets:
        if secret and len(secret) >= MIN_REDACTED:
            text = text.replace(secret, REDACTED)
    return text
