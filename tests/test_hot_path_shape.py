"""The hot path depends on CPython's fast attribute access, which an instance keeps only
while it has fewer than 30 attributes: at 30 the auth call measured 5 to 8 % slower
(benchmarks/hot_path.py). Counted here, since tests assert counts, not seconds."""

from __future__ import annotations

from tokenprovider import JWTTokenProvider, OAuthTokenProvider

#: One below the number of instance attributes at which CPython 3.11 gives up its
#: inline attribute values (seen with benchmarks/hot_path.py and a toy class alike).
MAX_ATTRIBUTES = 29


def test_an_oauth_provider_keeps_few_enough_attributes_for_fast_access() -> None:
    provider = OAuthTokenProvider(
        "api.example.com", "client", "client-secret", token_url="https://login.example.com/token"
    )
    assert len(vars(provider)) <= MAX_ATTRIBUTES, sorted(vars(provider))


def test_a_jwt_provider_keeps_few_enough_attributes_for_fast_access() -> None:
    provider = JWTTokenProvider("api.example.com", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln")
    assert len(vars(provider)) <= MAX_ATTRIBUTES, sorted(vars(provider))
