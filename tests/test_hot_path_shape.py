"""The shape the requests hot path relies on, counted here since tests assert counts, not
seconds (benchmarks/hot_path.py measures the time).

- CPython's fast attribute access, which an instance keeps only while it has fewer than
  30 attributes: at 30 the auth call measured 5 to 8 % slower.
- The host rule's answer remembered per URL (`ResponseHook`): it must be the answer
  `Host.matches` gives, for the provider's host as it is now, whatever the URL; each URL is
  checked once; what is remembered stays bounded and out of sight.
"""

from __future__ import annotations

import pytest
import requests

from tokenprovider import Host, JWTTokenProvider, OAuthTokenProvider
from tokenprovider.transports.requests import KNOWN_URLS, LONGEST_KNOWN_URL

#: One below the number of instance attributes at which CPython 3.11 gives up its
#: inline attribute values (seen with benchmarks/hot_path.py and a toy class alike).
MAX_ATTRIBUTES = 29

#: A static token without an expiry: the provider needs no network.
JWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"

#: URLs as a request may carry them: not normalised by requests, since `r.url` can be set.
URLS = [
    "https://api.example.com/items",
    "https://api.example.com/items?page=2",
    "https://API.Example.com/items",
    "HTTPS://api.example.com/items",
    "https://api.example.com:443/items",
    "https://api.example.com:0443/items",
    "https://api.example.com:8443/items",
    "https://api.example.com:99999/items",
    "https://api.example.com",
    "https://api.example.com?x=1",
    "https://api.example.com#top",
    "http://api.example.com/items",
    "https://api.example.com.evil.net/",
    "https://evil.net/?u=https://api.example.com/",
    "https://api.example.com@evil.net/",
    "https://user:pw@api.example.com/items",
    "https://sub.api.example.com/",
    "//api.example.com/items",
    "https://bücher.example/",
    "https://xn--bcher-kva.example/",
    "http://127.0.0.1:8080/x",
    "http://127.0.0.1:8081/x",
    "http://localhost:8080/x",
    "http://[::1]:8080/x",
    "http://[::1/x",
    "",
]
HOSTS = [
    Host("api.example.com"),
    Host("https://api.example.com:443"),
    Host("api.example.com:8443"),
    Host("bücher.example"),
    Host("127.0.0.1:8080", "http"),
    Host("[::1]:8080", "http"),
]


def sent(provider: JWTTokenProvider, url: str) -> bool:
    """Whether ``provider``, as a requests auth, gives a request for ``url`` its token
    (and then its 401 hook). The URL is a new string each time, as in a new request."""
    request = requests.Request("GET", "https://placeholder.invalid/").prepare()
    request.url = "".join(list(url))
    provider(request)
    attached = "Authorization" in request.headers
    assert (provider._requests_hook in request.hooks["response"]) is attached
    return attached


def test_an_oauth_provider_keeps_few_enough_attributes_for_fast_access() -> None:
    provider = OAuthTokenProvider(
        "api.example.com", "client", "secret", token_url="https://login.example.com/token"
    )
    assert len(vars(provider)) <= MAX_ATTRIBUTES, sorted(vars(provider))


def test_a_jwt_provider_keeps_few_enough_attributes_for_fast_access() -> None:
    provider = JWTTokenProvider("api.example.com", JWT)
    assert len(vars(provider)) <= MAX_ATTRIBUTES, sorted(vars(provider))


@pytest.mark.parametrize("host", HOSTS, ids=str)
def test_the_remembered_host_rule_gives_the_answer_of_host_matches(host: Host) -> None:
    provider = JWTTokenProvider(host, JWT)
    for _ in range(3):  # the first answer for each URL, then the remembered ones
        for url in URLS:
            assert sent(provider, url) is host.matches(url), url


def test_each_url_on_the_host_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    matches = Host.matches

    def counted(host: Host, url: str) -> bool:
        checked.append(url)
        return matches(host, url)

    monkeypatch.setattr(Host, "matches", counted)
    provider = JWTTokenProvider("api.example.com", JWT)
    for _ in range(5):
        assert sent(provider, "https://api.example.com/items?page=2")
        assert not sent(provider, "https://evil.example/")
    # A URL off the host is not remembered: it is checked each time.
    assert checked == ["https://api.example.com/items?page=2"] + ["https://evil.example/"] * 5


def test_urls_found_on_one_host_do_not_count_for_another() -> None:
    provider = JWTTokenProvider("api.example.com", JWT)
    assert sent(provider, "https://api.example.com/items")
    provider.host = Host("other.example.com")
    assert not sent(provider, "https://api.example.com/items")
    assert sent(provider, "https://other.example.com/items")
    provider.host = Host("api.example.com")  # equal to the first, but built anew
    assert not sent(provider, "https://other.example.com/items")
    assert sent(provider, "https://api.example.com/items")


def test_the_urls_remembered_are_bounded_in_number_and_length() -> None:
    provider = JWTTokenProvider("api.example.com", JWT)
    known = provider._requests_hook
    for number in range(2 * KNOWN_URLS + 7):
        assert sent(provider, f"https://api.example.com/items/{number}")
    assert len(known.known.urls) == KNOWN_URLS  # the first ones seen; then no more
    assert "https://api.example.com/items/0" in known.known.urls
    assert f"https://api.example.com/items/{KNOWN_URLS}" not in known.known.urls
    provider = JWTTokenProvider("api.example.com", JWT)
    known = provider._requests_hook
    longest = "https://api.example.com/" + "a" * (LONGEST_KNOWN_URL - 24)
    longer = longest + "a"
    assert sent(provider, longest)
    assert sent(provider, longer)
    assert longest in known.known.urls
    assert longer not in known.known.urls


class Agreeable(str):
    """A URL that says it equals any string, and hashes as an off-host URL does."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("https://evil.example/")


def test_a_url_that_is_not_a_plain_str_is_never_remembered() -> None:
    provider = JWTTokenProvider("api.example.com", JWT)
    request = requests.Request("GET", "https://placeholder.invalid/").prepare()
    request.url = Agreeable("https://api.example.com/items")
    provider(request)
    assert "Authorization" in request.headers  # it is on the host ...
    assert not sent(provider, "https://evil.example/")  # ... and vouches for no other URL


def test_the_hook_shows_no_url_it_remembers() -> None:
    provider = JWTTokenProvider("api.example.com", JWT)
    assert sent(provider, "https://api.example.com/items?access_token=s3cret-value")
    assert "s3cret" not in repr(provider._requests_hook)
