"""Four processes share one token through a `FileTokenCache`: one token request for all.

Each worker process builds its own provider, as four separate programs (cron jobs, gunicorn
workers, parallel CI steps) would. With the default in-memory cache each would fetch its
own token; with a `FileTokenCache` in the same directory, a lock file makes one process
fetch while the others wait and then read the token it wrote (files are 0600, in a
directory only you can write).

The token endpoint is a `LocalOAuthServer` on 127.0.0.1 that counts token requests.

Needs: tokenprovider only (no extras). Run: ``python examples/shared_file_cache.py``
"""

from __future__ import annotations

import hashlib
import multiprocessing
import tempfile
from typing import Any

from tokenprovider import FileTokenCache, OAuthTokenProvider
from tokenprovider.testing import LocalOAuthServer

WORKERS = 4


def worker(api_url: str, token_url: str, directory: str, start: Any, results: Any) -> None:
    """One process: build a provider on the shared cache, then ask for the token."""
    provider = OAuthTokenProvider(
        api_url,
        "reporting",
        "example-secret",
        token_url=token_url,
        # FileTokenCache() alone uses the user cache directory (~/.cache/tokenprovider/tokens);
        # key="env:TOKEN_CACHE_KEY" or key="derive" would also encrypt the files.
        cache=FileTokenCache(directory),
    )
    start.wait()  # all four ask at the same moment, with nothing cached yet
    token = provider.token
    results.put(hashlib.sha256(token.encode()).hexdigest())  # a fingerprint, not the token


def main() -> None:
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, like separate programs
    with (
        LocalOAuthServer(clients={"reporting": "example-secret"}) as server,
        tempfile.TemporaryDirectory() as directory,
    ):
        start, results = spawn.Barrier(WORKERS), spawn.Queue()
        processes = [
            spawn.Process(
                target=worker, args=(server.url, server.token_url, directory, start, results)
            )
            for _ in range(WORKERS)
        ]
        for process in processes:
            process.start()
        fingerprints = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=60)

        print(f"processes: {WORKERS}, exit codes: {[p.exitcode for p in processes]}")
        print(f"distinct tokens among them: {len(set(fingerprints))}")
        print(f"token requests: {server.token_requests}")  # 1


if __name__ == "__main__":
    main()
