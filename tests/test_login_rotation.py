"""Rotating refresh tokens across processes: never spent twice, never lost at exit.

The server revokes a whole token family when a rotated refresh token comes back (reuse
detection, as real servers do), so a single double spend shows in its counters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from login_support import CALLBACK, PASSWORD, logged_in, person
from tokenprovider.testing import LocalOAuthServer

PROCESSES = 8
ROUNDS = 6

#: A process that, once told to go, takes a token ROUNDS times, dropping it each time as
#: a 401 would, so it refreshes whenever the stored token is the one it used last.
RACER = textwrap.dedent(
    """
    import json, sys
    from tokenprovider import OAuthTokenProvider
    url, token_url, store, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    provider = OAuthTokenProvider(
        url, "cli", token_url=token_url, grant_type="authorization_code",
        scopes=["openid", "read"], login_store="file", login_store_dir=store,
    )
    print("ready", flush=True)
    sys.stdin.readline()
    seen = []
    for _ in range(rounds):
        seen.append(provider.token)
        provider.invalidate_cache()
    print(json.dumps(seen), flush=True)
    """
)

#: A short-lived process in the refresh window: it gets its token at once, a worker
#: refreshes, and the process exits (when told: once the refresh reached the server)
#: while the server is still answering.
EXITING = textwrap.dedent(
    """
    import sys, time
    from tokenprovider import OAuthTokenProvider
    from tokenprovider.core import _workers
    from tokenprovider.testing import FakeClock
    _workers.EXIT_WAIT = 0.0  # exit waits for nothing but a refresh token being spent
    url, token_url, store = sys.argv[1], sys.argv[2], sys.argv[3]
    clock = FakeClock(wall=time.time(), monotonic=time.monotonic())
    provider = OAuthTokenProvider(
        url, "cli", token_url=token_url, grant_type="authorization_code",
        scopes=["openid", "read"], login_store="file", login_store_dir=store, clock=clock,
    )
    first = provider.token
    clock.advance(3600 - 100)  # into the advisory window: 100 s of the token left
    assert provider.token == first  # served at once; a worker refreshes
    print("refreshing", flush=True)
    sys.stdin.readline()
    """
)


@pytest.fixture
def server() -> Iterator[LocalOAuthServer]:
    with LocalOAuthServer(public_clients={"cli": [CALLBACK]}, users={"alice": PASSWORD}) as srv:
        yield srv


def child(program: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", program, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_eight_processes_refreshing_together_never_spend_a_token_twice(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    store = tmp_path / "logins"
    logged_in(server, store)
    racers = [
        child(RACER, server.url, server.token_url, str(store), str(ROUNDS))
        for _ in range(PROCESSES)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None
            assert racer.stdout.readline().strip() == "ready"
        for racer in racers:  # all at once, as far as the processes can tell
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        results = [racer.communicate(timeout=60) for racer in racers]
    finally:
        for racer in racers:
            racer.kill()
    for racer, (out, err) in zip(racers, results, strict=True):
        assert racer.returncode == 0, err
        assert len(json.loads(out)) == ROUNDS
    assert server.refresh_reuse_detected == 0
    assert server.families_revoked == 0
    # They did race: many refreshes, each with the refresh token the last one stored.
    assert server.refresh_tokens_issued > PROCESSES
    final = person(server, store)
    final.invalidate_cache()
    status = requests.get(server.resource_url, auth=final, timeout=10).status_code
    assert status == 200


def test_a_process_exiting_mid_refresh_leaves_a_usable_refresh_token(
    server: LocalOAuthServer, tmp_path: Path
) -> None:
    store = tmp_path / "logins"
    provider = logged_in(server, store)
    grant = provider._person
    assert grant is not None
    before = grant.store().load(grant.key())
    assert before is not None
    server.hold_token_requests()
    exiting = child(EXITING, server.url, server.token_url, str(store))
    try:
        assert exiting.stdout is not None
        assert exiting.stdout.readline().strip() == "refreshing"
        assert server.wait_for_token_requests(2)  # the login's, and the held refresh
        assert exiting.stdin is not None
        exiting.stdin.write("exit\n")
        exiting.stdin.flush()
        with pytest.raises(subprocess.TimeoutExpired):
            exiting.wait(timeout=0.5)  # exit waits for the refresh token being spent
        server.release_token_requests()
        _, err = exiting.communicate(timeout=30)
    finally:
        server.release_token_requests()
        exiting.kill()
    assert exiting.returncode == 0, err
    after = grant.store().load(grant.key())
    assert after is not None
    assert after.refresh_token not in (None, before.refresh_token)  # the rotated one, kept
    # ... and it works: a later run refreshes with it, and no family is revoked.
    later = person(server, store)
    _ = later.token  # the stored access token
    later.invalidate_cache()
    issued = server.refresh_tokens_issued
    _ = later.token  # a refresh, with the refresh token the exiting process stored
    assert server.refresh_tokens_issued == issued + 1
    assert server.refresh_reuse_detected == 0
    assert server.families_revoked == 0
