"""Drop-in for the Token Dispenser client's documented call.

Replace ``from token_dispenser_client_lib import get_token`` with
``from tokenprovider.compat.tds import get_token``; the call and its result are the same.
Unlike the original, importing needs no AWS region, the dispenser's ARN is looked up
once per process, tokens are cached in the process (each call still gets a token with
more than ``minimum_alive_secs`` left, or a `TDSError` saying why none could be had), and
failures raise typed errors (`TDSError`, `DiscoveryError`, `ConfigurationError`, all
`TokenProviderError`).
"""

from __future__ import annotations

import json
import math
import os
import threading
from typing import TYPE_CHECKING, Any

from tokenprovider import _aws as aws
from tokenprovider import _untrusted as untrusted
from tokenprovider.caches.memory import MemoryTokenCache
from tokenprovider.core.clock import SYSTEM_CLOCK
from tokenprovider.errors import TDSError, TokenExpiredOnArrivalError, TokenRequestError
from tokenprovider.providers.tds import (
    MARGIN_GUARD,
    MAX_MINIMUM_ALIVE_SECS,
    check_client_id,
    check_minimum_alive_secs,
)

if TYPE_CHECKING:
    from tokenprovider.providers.tds import TDSTokenProvider

#: The providers never attach tokens to requests; this reserved name marks that.
_NO_HOST = "token-dispenser.invalid"
#: What messages about boto3 or the region name as needing them.
NEEDED_BY = "tokenprovider.compat.tds.get_token()"
_providers: dict[tuple[str, int, str | None, str], TDSTokenProvider] = {}
_arns: dict[tuple[str | None, str], str] = {}  # by SSM key and region: one lookup each
_lock = threading.Lock()
_cache = MemoryTokenCache()  # its own, so that clear_cache() forgets the tokens too


def get_token(
    client_id: str,
    minimum_alive_secs: int = 300,
    token_dispenser_arn_ssm_key: str | None = None,
) -> str:
    """The dispenser's token JSON (``sm_token``, ``cookiename``, ``expires_at``...) as a string.

    The token has more than ``minimum_alive_secs`` seconds left; if even a fresh one from
    the dispenser has not, `TDSError` says so. Without ``token_dispenser_arn_ssm_key`` the
    only parameter under ``/service/token-dispenser`` names the dispenser.
    """
    check_client_id(client_id)
    check_minimum_alive_secs(minimum_alive_secs)
    aws.require_aws(NEEDED_BY)
    region = _region()
    provider = _provider(client_id, minimum_alive_secs, token_dispenser_arn_ssm_key, region)
    document = _document(provider, minimum_alive_secs)
    if _seconds_left(document) <= minimum_alive_secs:
        provider.invalidate_cache()  # a refresh is under way elsewhere: wait for a fresh one
        document = _document(provider, minimum_alive_secs)
        left = _seconds_left(document)
        if left <= minimum_alive_secs:
            shown = "no expiry" if left == -math.inf else f"{left:.0f}s left"
            raise _too_short(provider, minimum_alive_secs, f"a token with {shown} (asked twice)")
    if provider.function_arn is not None:
        with _lock:
            _arns[token_dispenser_arn_ssm_key, region] = provider.function_arn
    return json.dumps(document)


#: What the region depends on when it is not given; resolving it without these changing
#: would build a boto3 session (about 18 ms) on every call.
_REGION_INPUTS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE")
_regions: dict[tuple[str | None, ...], str] = {}


def _region() -> str:
    """The region (`get_token` has no region parameter: it is the environment's or the
    profile's), resolved once for each set of the variables it depends on."""
    inputs = tuple(os.environ.get(name) for name in _REGION_INPUTS)
    region = _regions.get(inputs)
    if region is None:
        region = aws.require_region(None, needed_by=NEEDED_BY)
        with _lock:
            _regions[inputs] = region
    return region


def _document(provider: TDSTokenProvider, minimum: int) -> dict[str, Any]:
    """The provider's token document; a token that was expired when it came is a
    `TDSError` too, as a token too short for ``minimum`` is."""
    try:
        return provider.token_document()
    except TokenRequestError as exc:
        expired = exc if isinstance(exc, TokenExpiredOnArrivalError) else exc.__cause__
        if not isinstance(expired, TokenExpiredOnArrivalError):
            raise
    raise _too_short(provider, minimum, "a token that had already expired")


def _too_short(provider: TDSTokenProvider, minimum: int, what: str) -> TDSError:
    return TDSError(
        f"the token dispenser {provider.function_arn} gave client_id {provider.client_id!r} "
        f"{what}, not more than the minimum_alive_secs={minimum} asked for; check this "
        "machine's clock against the dispenser's"
    )


def _seconds_left(document: dict[str, object]) -> float:
    """How long the token in ``document`` has left (minus infinity without an expiry)."""
    expires_at = untrusted.finite_seconds(document.get("expires_at"))
    return -math.inf if expires_at is None else expires_at - SYSTEM_CLOCK.time()


def _provider(client_id: str, minimum: int, ssm_key: str | None, region: str) -> TDSTokenProvider:
    from tokenprovider.providers.tds import TDSTokenProvider  # noqa: PLC0415 - loads boto3

    key = (client_id, minimum, ssm_key, region)
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            # Ask the dispenser for more than the caller needs and refresh before the
            # caller's margin is reached, so cached tokens always satisfy it.
            provider = TDSTokenProvider(
                _NO_HOST,
                client_id,
                minimum_alive_secs=min(MAX_MINIMUM_ALIVE_SECS, minimum + 2 * int(MARGIN_GUARD)),
                token_dispenser_arn_ssm_key=ssm_key,
                region=region,
                refresh_ahead=minimum + MARGIN_GUARD,
                cache=_cache,
            )
            if (ssm_key, region) in _arns:
                provider._adopt_function_arn(_arns[ssm_key, region])
            _providers[key] = provider
        return provider


def clear_cache() -> None:
    """Forget every provider (and so every cached token and ARN)."""
    with _lock:
        _providers.clear()
        _arns.clear()
        _regions.clear()
        _cache.clear()
