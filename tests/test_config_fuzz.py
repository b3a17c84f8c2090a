"""Hypothesis fuzzing of parse_credentials_config: only TokenProviderError may escape.

Inputs are arbitrary nested dicts, lists and scalars (None, bytes, nan and infinities,
huge integers, non-string keys) grown around a plausible ``[credentials]`` structure.
Secret references that would reach the network (``aws-...:``) are never generated. The
canary secret is only ever put where a secret belongs, so any error may name other values.
"""

from __future__ import annotations

import base64
import json
import math
import pwd
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import CANARY_SECRET, assert_no_leak
from tokenprovider import TokenProvider, TokenProviderError, parse_credentials_config
from tokenprovider.config.toml_lines import key_lines

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode("ascii")


JWT = f"{_segment({'alg': 'HS256'})}.{_segment({'sub': 'fuzz', 'exp': 4102444800})}.c2ln"

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KNOWN_KEYS = [
    "domain",
    "scheme",
    "provider",
    "jwt",
    "oauth",
    "client_id",
    "client_secret",
    "token_url",
    "grant_type",
    "scopes",
    "audience",
    "client_auth",
    "extra_params",
    "default_expires_in",
    "retry",
    "max_attempts",
    "backoff_base",
    "backoff_max",
    "timeout",
    "deadline",
    "sleep",
    "clock_skew",
    "refresh_ahead",
    "failure_cooldown",
    "clock",
    "credentials",
    "profiles",
]

PLAUSIBLE_STRINGS = [
    "api.example.com",
    "127.0.0.1:8080",
    "https://api.example.com",
    "http",
    "https",
    "jwt",
    "oauth",
    "oauht",
    "basic",
    "post",
    "client_credentials",
    "read,write",
    "read write",
    "https://login.example.com/oauth2/token",
    "http://login.example.com/token",
    "300",
    "-1",
    "1e400",
    "nan",
    "inf",
    "true",
    "",
    " ",
    JWT,
    "Bearer " + JWT,
    "a.b.c",
    "env:TOKENPROVIDER_FUZZ_UNSET",
    "env:",
    "env:NOT VALID",
    "file:",
    "file:tokenprovider-fuzz-missing.txt",
    "aws-secretsmanager:",
    "aws-secretsmanager:x#",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.sampled_from(PLAUSIBLE_STRINGS),
)
keys = st.one_of(
    st.sampled_from(KNOWN_KEYS),
    st.text(max_size=12),
    st.integers(),
    st.binary(max_size=4),
    st.none(),
    st.tuples(st.integers()),
    st.floats(allow_nan=False),
)
anything = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=12,
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = anything) -> Any:
    """Usually ``good``, sometimes ``bad`` (which shrinks towards ``good``)."""
    return st.integers(0, 4).flatmap(lambda n: bad if n == 4 else good)


def table(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A dict of mostly plausible values for known keys, sometimes with stray keys."""
    known = st.fixed_dictionaries(
        {key: mostly(value) for key, value in required.items()},
        optional={key: mostly(value) for key, value in optional.items()},
    )
    extra = st.dictionaries(keys, anything, min_size=1, max_size=2)
    return mostly(known, st.one_of(st.builds(lambda a, b: {**b, **a}, known, extra), anything))


seconds = st.one_of(
    st.integers(0, 3600),
    st.floats(0, 3600),
    st.sampled_from(["5", "2.5", " 7 "]),
)
numbers = mostly(seconds, st.one_of(st.integers(), st.floats(), st.sampled_from(["x", "1e400"])))
retry_table = table(
    {},
    {
        "max_attempts": mostly(st.integers(1, 10), numbers),
        "backoff_base": numbers,
        "backoff_max": numbers,
        "timeout": mostly(st.integers(1, 60), numbers),
        "deadline": mostly(st.integers(1, 60), numbers),
    },
)
oauth = table(
    {"client_id": st.one_of(st.sampled_from(["reporting", ""]), st.text(max_size=8))},
    {
        "client_secret": st.sampled_from([CANARY_SECRET, "env:TOKENPROVIDER_FUZZ_UNSET"]),
        "token_url": mostly(
            st.sampled_from(
                ["https://login.example.com/oauth2/token", "https://api.example.com/t"]
            ),
            st.sampled_from(PLAUSIBLE_STRINGS),
        ),
        "grant_type": st.sampled_from(["client_credentials", "client_credentials", "password"]),
        "scopes": st.one_of(
            st.lists(st.sampled_from(["read", "write", "a b", ""]), max_size=3),
            st.sampled_from(["read,write", "read write", "read"]),
            st.text(max_size=12),
        ),
        "audience": st.text(max_size=8),
        "client_auth": st.sampled_from(["basic", "post", "BASIC", "digest"]),
        "extra_params": mostly(
            st.dictionaries(st.sampled_from(["resource", "x", "scope"]), st.text(max_size=5)),
            st.dictionaries(keys, anything, max_size=3),
        ),
        "default_expires_in": numbers,
        "retry": retry_table,
        "clock_skew": numbers,
        "refresh_ahead": numbers,
        "failure_cooldown": numbers,
    },
)
jwt = st.one_of(
    st.sampled_from([JWT, JWT, CANARY_SECRET, "a.b.c", "Bearer " + JWT, "x.eyJleHAiOiJ4In0.y"]),
    table({"jwt": st.sampled_from([JWT, "a.b.c"])}, {}),
)
domains = mostly(
    st.sampled_from(["api.example.com", "127.0.0.1:8080", "https://api.example.com"]),
    st.one_of(st.sampled_from(["a b", "[::1]", "x/y"]), st.text(max_size=20), scalars),
)
providers = st.one_of(
    st.fixed_dictionaries({"jwt": jwt}),
    st.fixed_dictionaries({"oauth": oauth}),
    st.fixed_dictionaries(
        {"jwt": jwt, "oauth": oauth},
        optional={"provider": st.sampled_from(["jwt", "oauth", "oauht", "", "tds"])},
    ),
    st.fixed_dictionaries({}),
)
section = mostly(
    st.builds(
        lambda head, chosen: {**head, **chosen},
        st.fixed_dictionaries(
            {"domain": domains}, optional={"scheme": mostly(st.sampled_from(["https", "http"]))}
        ),
        providers,
    ),
    table({"domain": domains}, {"scheme": st.text(max_size=5), "jwt": jwt, "oauth": oauth}),
)
configs = mostly(
    st.fixed_dictionaries({"credentials": section}, optional={"profiles": anything}),
    st.one_of(st.dictionaries(keys, anything, max_size=3), anything),
)


def check(config: Any) -> None:
    """Build ``config``: a provider, or a TokenProviderError that leaks no secret."""
    try:
        provider = parse_credentials_config(config)
    except TokenProviderError as exc:
        assert_no_leak(str(exc), CANARY_SECRET)
    else:
        assert isinstance(provider, TokenProvider)
        assert_no_leak(repr(provider), CANARY_SECRET)


@settings(FUZZ, max_examples=400)
@given(configs)
@example({"credentials": {"domain": "api.example.com", "jwt": JWT}})
@example({"credentials": {"domain": math.nan, "jwt": JWT}})
@example({"credentials": {"domain": "api.example.com", b"oauth": {}}})
def test_fuzzed_config_raises_only_tokenprovider_errors(config: Any) -> None:
    check(config)


@FUZZ
@given(st.text(max_size=40), st.sampled_from(["http", "https", None]))
def test_fuzzed_domain_raises_only_tokenprovider_errors(domain: str, scheme: str | None) -> None:
    credentials: dict[str, Any] = {"domain": domain, "jwt": JWT}
    if scheme is not None:
        credentials["scheme"] = scheme
    check({"credentials": credentials})


@FUZZ
@given(
    st.sampled_from(["client_id", "audience", "token_url", "clock_skew", "scopes"]),
    st.one_of(st.text(max_size=30), st.text(max_size=30).map(lambda text: "file:" + text)),
)
def test_fuzzed_plain_setting_raises_only_tokenprovider_errors(key: str, value: str) -> None:
    """Plain settings given a reference resolve it at once; that may fail, but cleanly."""
    oauth_section: dict[str, Any] = {"client_id": "reporting", key: value}
    check({"credentials": {"domain": "api.example.com", "oauth": oauth_section}})


@pytest.mark.parametrize(
    "credentials",
    [
        {"domain": "[::1", "jwt": JWT},
        {"domain": "api\uff03example.com", "jwt": JWT},
        {"domain": "[api].example.com", "jwt": JWT},
        {"domain": "api.example.com", "oauth": {"client_id": "file:\x00"}},
        {"domain": "api.example.com", "oauth": {"client_id": "file:~tokenprovider-no-such-user/x"}},
        {
            "domain": "api.example.com",
            "cache": "file:~tokenprovider-no-such-user/x",
            "oauth": {"client_id": "c", "token_url": "https://api.example.com/t"},
        },
    ],
    ids=[
        "domain-ipv6-bracket",
        "domain-nfkc",
        "domain-not-an-ip-in-brackets",
        "file-ref-nul",
        "file-ref-unknown-user",
        "cache-unknown-user",
    ],
)
def test_known_escapes_are_tokenprovider_errors(credentials: dict[str, Any]) -> None:
    """Inputs found by fuzzing that raised ValueError/RuntimeError instead of our errors."""
    with pytest.raises(TokenProviderError):
        parse_credentials_config({"credentials": credentials})


# --- quoted and escaped keys in TOML text, and an unset HOME ------------------------------

#: TOML's escapes for characters that may not appear in a basic string as they are.
_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
key_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=0, max_size=8)


@st.composite
def basic_string(draw: st.DrawFn, text: str) -> str:
    """``text`` as a TOML basic string, each character written plainly or escaped in any
    way TOML allows (``\\t``, ``\\u00e9``, ``\\U0001F600``...)."""
    parts = []
    for char in text:
        forms = [f"\\u{ord(char):04X}"] if ord(char) <= 0xFFFF else []
        forms.append(f"\\U{ord(char):08x}")
        if char in _SHORT_ESCAPES:
            forms.append(_SHORT_ESCAPES[char])
        elif char in '"\\':
            forms.append("\\" + char)
        elif ord(char) >= 0x20 and ord(char) != 0x7F:
            forms.append(char)
        parts.append(draw(st.sampled_from(forms)))
    return '"' + "".join(parts) + '"'


@st.composite
def quoted_key(draw: st.DrawFn) -> tuple[str, str]:
    """(the key, how it is written): a basic string, a literal string or a bare key."""
    text = draw(key_text)
    literal_ok = all(c not in "'\n\r" and (ord(c) >= 0x20 or c == "\t") for c in text)
    bare_ok = bool(text) and all(c.isascii() and (c.isalnum() or c in "_-") for c in text)
    forms = [draw(basic_string(text))]
    if literal_ok and ord(text[-1:] or "a") != 0x7F and "\x7f" not in text:
        forms.append(f"'{text}'")
    if bare_ok:
        forms.append(text)
    return text, draw(st.sampled_from(forms))


@FUZZ
@given(st.lists(quoted_key(), min_size=1, max_size=3), st.sampled_from(["dotted", "header"]))
@example([("a\U0001f600", '"a\\U0001F600"')], "dotted")
@example([("tab\there", '"tab\there"')], "header")
def test_fuzzed_quoted_keys_get_their_lines(keys: list[tuple[str, str]], form: str) -> None:
    """Every key TOML accepts is found, with its line, by the line scanner."""
    path = ("credentials", *(key for key, _ in keys))
    written = ".".join(spelling for _, spelling in keys)
    if form == "dotted":
        text = f'[credentials]\ndomain = "api.example.com"\n{written} = 1\n'
    else:
        text = f'[credentials]\ndomain = "api.example.com"\n[credentials.{written}]\nx = 1\n'
    document = tomllib.loads(text)  # the strategy only writes valid TOML

    lines = key_lines(text)

    value: Any = document
    for key in path:
        value = value[key]
    assert lines[path] == 3


@FUZZ
@given(
    spec=st.one_of(
        st.sampled_from(["file:~", "file:~/tokens", "file:~/", "file:~root/x", "file:~~"]),
        st.text(max_size=12).map(lambda text: "file:~" + text),
    )
)
def test_fuzzed_cache_without_a_home_raises_only_tokenprovider_errors(
    spec: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """HOME unset and no password entry (a container run as a bare uid): ``~`` cannot be
    expanded, which must be a ConfigurationError naming the setting."""

    def unknown(uid: int) -> Any:
        raise KeyError(uid)

    oauth_section = {
        "client_id": "reporting",
        "client_secret": CANARY_SECRET,
        "token_url": "https://api.example.com/t",
    }
    config = {"credentials": {"domain": "api.example.com", "cache": spec, "oauth": oauth_section}}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("HOME", raising=False)
        patch.setattr(pwd, "getpwuid", unknown)
        patch.chdir(tmp_path_factory.getbasetemp())
        try:
            parse_credentials_config(config)
        except TokenProviderError as exc:
            message = str(exc)
        else:
            return
    assert_no_leak(message, CANARY_SECRET)
    assert "credentials.cache" in message
