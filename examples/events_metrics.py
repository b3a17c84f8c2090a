"""Wire a provider's events to logging and to metrics.

Every provider hands `TokenEvent`s to its listeners: a fetch started, succeeded or failed
(with its duration and the error's class), a token taken from a shared cache, a wait for
another process's fetch, a failed refresh ahead of expiry that backs off, a token dropped
after a 401. Events never carry a token or a secret, and a token served from memory emits
none, so listening costs nothing on the hot path.

Here one listener logs each event, and another keeps what a metrics library would: a
counter per outcome and a histogram of fetch latencies (with prometheus_client it would be
a ``Counter`` with labels and a ``Histogram``; the buckets below are its defaults' first
few). The token endpoint and API are a `LocalOAuthServer` on 127.0.0.1 (50 ms per token
request), and a `FakeClock` moves the provider into its refresh window without waiting
(event durations are real time, whatever the provider's clock).

Needs: tokenprovider only (no extras). Run: ``python examples/events_metrics.py``
"""

from __future__ import annotations

import bisect
import logging
import sys
from collections import Counter

import requests

from tokenprovider import OAuthTokenProvider, TokenEvent
from tokenprovider.core import events
from tokenprovider.testing import FakeClock, LocalOAuthServer, wait_for_refresh

#: Upper bounds of the latency buckets, in seconds (the last one catches the rest).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, float("inf"))


class Metrics:
    """A counter per outcome and a fetch-latency histogram, fed by events."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.latency = [0] * len(BUCKETS)

    def __call__(self, event: TokenEvent) -> None:
        label = event.kind if event.reason is None else f"{event.kind}:{event.reason}"
        self.outcomes[label] += 1
        if event.kind in ("fetch_succeeded", "fetch_failed") and event.duration is not None:
            self.latency[bisect.bisect_left(BUCKETS, event.duration)] += 1


def log_event(event: TokenEvent) -> None:
    """One log line per event, with its fields (a JSON formatter would take them as is)."""
    fields = [
        f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}"
        for name in ("duration", "reason", "cache", "delay")
        if (value := getattr(event, name)) is not None
    ]
    logging.getLogger("myservice.tokens").info(
        "%s", " ".join([event.provider, event.kind, "for", event.host, *fields])
    )


def main() -> None:
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s: %(message)s")
    metrics = Metrics()
    remove_global = events.add_listener(metrics)  # every provider in the process
    clock = FakeClock()
    with LocalOAuthServer(clients={"reporting": "example-secret"}, latency=0.05) as api:
        provider = OAuthTokenProvider(
            api.url,
            "reporting",
            "example-secret",
            token_url=api.token_url,
            clock=clock,  # real code leaves the clock out
        )
        provider.add_listener(log_event)  # this provider only

        with provider.session() as session:
            for _ in range(100):  # one fetch, then 99 calls served from memory: no events
                session.get(api.resource_url, timeout=10)

            api.revoke_all()  # the API now answers 401: the token is dropped and refetched
            session.get(api.resource_url, timeout=10)

            clock.advance(3600 - 200)  # into the refresh-ahead window of the one-hour token
            api.fail_next(1, status=400)  # the refresh fails (not retried: a 400)
            session.get(api.resource_url, timeout=10)  # served the current token at once
            wait_for_refresh(provider)

        requests.get(api.resource_url, auth=provider, timeout=10)
    remove_global()

    print("outcomes:")
    for label, count in sorted(metrics.outcomes.items()):
        print(f"  {label}: {count}")
    print("fetch latency histogram (seconds, cumulative):")
    total = 0
    for bound, count in zip(BUCKETS, metrics.latency, strict=True):
        total += count
        print(f"  le={bound:g}: {total}")
    print(f"token requests: {api.token_requests}")


if __name__ == "__main__":
    main()
