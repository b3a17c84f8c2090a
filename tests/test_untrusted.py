"""untrusted: the shared readers of outside input (JSON, numbers, server text)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from tokenprovider import _aws as aws
from tokenprovider._untrusted import (
    QUOTE_LIMIT,
    UntrustedJSONError,
    a_type,
    describe,
    finite_seconds,
    load_json,
    quote,
)
from tokenprovider.caches.base import attributes_problem
from tokenprovider.errors import ConfigurationError


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b"[Infinity]", "Infinity is not a JSON number"),
        (b"9" * 5000, "not valid JSON"),  # longer than int() may convert
        (b"\xff\xfe{}", "not valid"),
        (b"{", "not valid JSON"),
    ],
)
def test_bad_json_is_one_error_that_does_not_quote_the_input(data: bytes, reason: str) -> None:
    with pytest.raises(UntrustedJSONError, match=reason) as info:
        load_json(data)
    assert len(str(info.value)) < 100
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_good_json_loads() -> None:
    assert load_json(b'{"access_token": "t", "expires_in": 3600}') == {
        "access_token": "t",
        "expires_in": 3600,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3600, 3600.0),
        (1.5, 1.5),
        (10**400, None),
        (-(10**400), None),
        (float("inf"), None),
        (float("nan"), None),
        (True, None),
        ("3600", None),
        (None, None),
    ],
)
def test_finite_seconds(value: object, expected: float | None) -> None:
    assert finite_seconds(value) == expected


def test_quote_cuts_and_escapes() -> None:
    text = "ok\r\nX-Forged: 1\x1b[31m\u202e" + "y" * 5_000_000
    quoted = quote(text)
    assert "\r" not in quoted
    assert "\n" not in quoted
    assert "\x1b" not in quoted
    assert "\u202e" not in quoted
    assert quoted.startswith("ok\\r\\nX-Forged: 1\\x1b[31m\\u202e")
    assert quoted.endswith(f"({len(text) - QUOTE_LIMIT} more characters)")
    assert len(quoted) < QUOTE_LIMIT + 100


@given(st.text())
def test_quote_never_lets_a_line_break_or_control_through(text: str) -> None:
    quoted = quote(text)
    assert quoted.isprintable()
    assert len(quoted) <= QUOTE_LIMIT * 10 + 60


def test_describe_keeps_ours_and_quotes_anyone_elses() -> None:
    ours = ConfigurationError("x" * 1000 + " a long message of ours")
    assert describe(ours) == str(ours)
    theirs = RuntimeError("forged\r\nCRITICAL line" + "y" * 5000)
    assert describe(theirs).startswith("forged\\r\\nCRITICAL line")
    assert len(describe(theirs)) < QUOTE_LIMIT + 100


def test_botocore_errors_are_described_quoted() -> None:
    message = "bad\r\nCRITICAL forged" + "z" * 100_000
    error = ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "PutItem")
    text = aws.describe_error(error)
    assert text is not None
    assert text.startswith("ValidationException: bad\\r\\nCRITICAL forged")
    assert len(text) < QUOTE_LIMIT + 100
    assert aws.describe_error(error, quoted=False) == f"ValidationException: {message}"


@pytest.mark.parametrize(
    ("value", "said"),
    [(None, "None"), (3, "an int"), ([1], "a list"), (object(), "an object"), (b"", "a bytes")],
)
def test_a_values_type_is_named_with_its_article(value: object, said: str) -> None:
    assert a_type(value) == said


def test_cached_attributes_of_the_wrong_type_are_named_plainly() -> None:
    assert attributes_problem(["x"]) == "they are a list, not a mapping"
    assert attributes_problem({"size": 1}) == "size is an int, not a string"
    assert attributes_problem({"size": None}) == "size is None, not a string"
