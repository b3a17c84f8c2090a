"""Host: parsing, validation, origin matching, equality and display."""

from __future__ import annotations

import copy
import pickle

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st

from tokenprovider.core.host import Host
from tokenprovider.errors import ConfigurationError, InvalidHostError


@pytest.mark.parametrize(
    ("given", "scheme", "domain", "url"),
    [
        ("api.example.com", "https", "api.example.com", "https://api.example.com"),
        ("127.0.0.1:8080", "https", "127.0.0.1:8080", "https://127.0.0.1:8080"),
        ("https://api.example.com", "https", "api.example.com", "https://api.example.com"),
        ("http://127.0.0.1:8080/", "http", "127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("API.Example.COM", "https", "api.example.com", "https://api.example.com"),
        ("HTTP://API.EXAMPLE.COM", "http", "api.example.com", "http://api.example.com"),
        ("  api.example.com  ", "https", "api.example.com", "https://api.example.com"),
        ("[::1]:8443", "https", "[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_parses_domain_or_url(given: str, scheme: str, domain: str, url: str) -> None:
    host = Host(given)
    assert (host.scheme, host.domain, host.url) == (scheme, domain, url)


@pytest.mark.parametrize(("scheme", "expected"), [(None, "https"), ("HTTP", "http")])
def test_scheme_argument(scheme: str | None, expected: str) -> None:
    host = Host("api.example.com", scheme)
    assert host.scheme == expected
    assert host.url == f"{expected}://api.example.com"


def test_url_scheme_wins_over_argument() -> None:
    assert Host("http://api.example.com", scheme="https").scheme == "http"


@pytest.mark.parametrize(
    ("given", "scheme"),
    [
        ("", "https"),
        ("   ", "https"),
        (None, "https"),
        (8080, "https"),
        ("api.example.com", "ftp"),
        ("ftp://api.example.com", "https"),
        ("https://", "https"),
        ("api example.com", "https"),
        ("api.example.com:99999", "https"),
        ("api.example.com:abc", "https"),
        ("api.example.com:0", "https"),
    ],
)
def test_invalid_host_is_rejected_naming_the_value(given: object, scheme: str) -> None:
    with pytest.raises(InvalidHostError) as excinfo:
        Host(given, scheme)  # type: ignore[arg-type]
    assert isinstance(excinfo.value, ConfigurationError)
    assert isinstance(excinfo.value, ValueError)
    assert repr(given) in str(excinfo.value)


@pytest.mark.parametrize(
    ("given", "shown", "drop"),
    [
        ("api.example.com/v1", "api.example.com/v1", "drop the path '/v1',"),
        ("https://api.example.com/v1/", "https://api.example.com/v1/", "drop the path '/v1',"),
        ("api.example.com?x=1", "api.example.com", "drop the query or fragment"),
        ("api.example.com#top", "api.example.com", "drop the query or fragment"),
        ("api.example.com?", "api.example.com", "drop the query or fragment"),
        ("api.example.com#", "api.example.com", "drop the query or fragment"),
        ("api.example.com:8443#", "api.example.com:8443", "drop the query or fragment"),
        (
            "https://api.example.com/?token=canary-SECRET",
            "https://api.example.com/",
            "drop the path '/' and the query or fragment",
        ),
        ("https://api.example.com#canary-SECRET", "https://api.example.com", "the query or"),
        (
            "https://api.example.com/v1?token=canary-SECRET#canary",
            "https://api.example.com/v1",
            "drop the path '/v1' and the query or fragment (not shown",
        ),
    ],
)
def test_a_path_query_or_fragment_is_refused_quoting_what_was_given_up_to_a_query(
    given: str, shown: str, drop: str
) -> None:
    """What the user typed is quoted (not a URL rebuilt from it), with the path to drop; a
    query or fragment may hold a secret, so it is not."""
    with pytest.raises(InvalidHostError, match="without a path, query or fragment") as info:
        Host(given)
    assert f"host {shown!r} must be a domain" in str(info.value)
    assert drop in str(info.value)
    assert "canary" not in str(info.value)


def test_coerce_accepts_host_and_str() -> None:
    host = Host("api.example.com")
    assert Host.coerce(host) is host
    coerced = Host.coerce("http://127.0.0.1:8080")
    assert isinstance(coerced, Host)
    assert coerced.url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com",
        "https://api.example.com/",
        "https://api.example.com/v1/items?page=2#frag",
        "https://api.example.com?x=1",
        "https://api.example.com#top",
        "https://api.example.com:443/x",
        "HTTPS://API.EXAMPLE.COM/x",
    ],
)
def test_matches_same_origin(url: str) -> None:
    assert Host("api.example.com").matches(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com:8443/x",
        "https://api.example.com:0/x",
        "http://api.example.com/x",
        "https://www.api.example.com/x",
        "https://api.example.com.evil.net/",
        "https://api.example.com@evil.net/",
        "https://api.example.co/",
        "https://other.example.com/x",
        "api.example.com/x",
        "not a url",
        "https://[::1",
        "https://api.example.com:abc/",
        "",
    ],
)
def test_does_not_match_other_origins(url: str) -> None:
    assert not Host("api.example.com").matches(url)


#: Hosts of each kind, with the start of a URL on it as requests spells it.
USUAL_STARTS = [
    (Host("api.example.com"), "https://api.example.com/"),
    (Host("api.example.com:443"), "https://api.example.com/"),
    (Host("127.0.0.1:8080", "http"), "http://127.0.0.1:8080/"),
    (Host("[::1]:8443"), "https://[::1]:8443/"),
    (Host("bücher.example"), "https://xn--bcher-kva.example/"),
]


@given(
    st.sampled_from(USUAL_STARTS),
    st.sampled_from(["", "/", "0", ".", ":", "\x00", "\U0010ffff", "/x", "0/x"]),
    st.text(),
)
@example(USUAL_STARTS[0], "", "")  # the start alone
@example(USUAL_STARTS[0], "0", "")  # the bound itself
def test_the_hot_paths_two_comparisons_say_exactly_whether_a_url_has_the_usual_start(
    case: tuple[Host, str], joint: str, tail: str
) -> None:
    # The requests handler checks `_usual_from <= url < _usual_until` instead of calling
    # startswith: for every string, cut anywhere into the start, the two must agree.
    host, start = case
    for cut in range(len(start) + 1):
        url = start[:cut] + joint + tail
        assert (host._usual_from <= url < host._usual_until) is url.startswith(start), url


@pytest.mark.parametrize(
    ("host", "url", "other"),
    [
        (Host("127.0.0.1:8080", "http"), "http://127.0.0.1:8080/token", "http://127.0.0.1/token"),
        (Host("[::1]:8443"), "https://[::1]:8443/x", "https://[::2]:8443/x"),
        (Host("http://localhost"), "http://localhost:80/", "https://localhost:80/"),
        (Host("api.example.com:443"), "https://api.example.com/x", "https://api.example.com:4430/"),
    ],
)
def test_matches_with_ports_and_ip_literals(host: Host, url: str, other: str) -> None:
    assert host.matches(url)
    assert not host.matches(other)


@pytest.mark.parametrize(
    "same",
    ["https://API.example.com:443", "api.example.com:443", "https://api.example.com/"],
)
def test_hosts_with_same_origin_are_equal(same: str) -> None:
    assert Host("api.example.com") == Host(same)
    assert hash(Host("api.example.com")) == hash(Host(same))
    assert len({Host("api.example.com"), Host(same)}) == 1


@pytest.mark.parametrize(
    "other",
    [Host("http://api.example.com"), Host("api.example.com:8443"), Host("example.com")],
)
def test_hosts_with_other_origin_differ(other: Host) -> None:
    assert Host("api.example.com") != other


@pytest.mark.parametrize("name", [*Host.__slots__, "anything"])
def test_a_host_cannot_be_changed_or_given_new_attributes(name: str) -> None:
    host = Host("api.example.com")
    with pytest.raises(AttributeError, match="cannot be changed"):
        setattr(host, name, "https://evil.example/")
    with pytest.raises(AttributeError, match="cannot be changed"):
        delattr(host, name)
    assert host.matches("https://api.example.com/v1")
    assert not host.matches("https://evil.example/")


def test_a_built_host_cannot_be_built_again_as_another() -> None:
    host = Host("api.example.com")
    with pytest.raises(AttributeError, match="cannot be changed"):
        host.__init__("evil.example")  # type: ignore[misc]
    assert (host.domain, host.matches("https://evil.example/")) == ("api.example.com", False)


@pytest.mark.parametrize("given", ["api.example.com:8443", "http://[::1]", "bücher.example"])
def test_a_copied_or_pickled_host_is_the_same_host(given: str) -> None:
    host = Host(given)
    for twin in (copy.copy(host), copy.deepcopy(host), pickle.loads(pickle.dumps(host))):
        assert twin == host
        assert (twin.scheme, twin.domain, twin.prefixes) == (
            host.scheme,
            host.domain,
            host.prefixes,
        )
        assert (twin._usual_from, twin._usual_until) == (host._usual_from, host._usual_until)


def test_host_is_not_equal_to_its_string() -> None:
    assert Host("api.example.com") != "https://api.example.com"


def test_repr_and_str() -> None:
    host = Host("http://127.0.0.1:8080")
    assert repr(host) == "Host('127.0.0.1:8080', scheme='http')"
    assert str(host) == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "given",
    [
        "https://svc:canary-SECRET@api.example.com",
        "svc:canary-SECRET@api.example.com",
        "https://svc:canary/SECRET@api.example.com",  # a '/' hides the '@' from urlsplit
        "https://svc:canary%2FSECRET@api.example.com:8443",
        "canary-SECRET@api.example.com",
    ],
)
def test_user_info_is_refused_without_quoting_it(given: str) -> None:
    with pytest.raises(InvalidHostError, match="without a user name or password") as info:
        Host(given)
    message = str(info.value)
    assert "canary" not in message
    assert "SECRET" not in message
    assert "svc" not in message
    assert "***@api.example.com" in message


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("bücher.example", "https://xn--bcher-kva.example/path"),
        ("https://BÜCHER.example:8443", "https://xn--bcher-kva.example:8443/"),
        ("xn--bcher-kva.example", "https://bücher.example/"),
    ],
)
def test_unicode_names_match_their_idna_form(given: str, url: str) -> None:
    host = Host(given)
    assert host.matches(url)
    assert host == Host(url.split("/")[2])
    assert not host.matches("https://bucher.example/")


def test_unicode_names_match_what_requests_sends() -> None:

    prepared = requests.Request("GET", "https://bücher.example/x").prepare()
    assert prepared.url is not None
    assert Host("bücher.example").matches(prepared.url)


def test_an_invalid_unicode_name_is_our_error() -> None:
    with pytest.raises(InvalidHostError, match="internationalised"):
        Host("b\u00fccher-\u2764.example".encode().decode("unicode_escape"))
