"""Child-process code for the Metadata Bank drop-in tests (importable, as `spawn` needs).

Each child is a cold "Lambda container": it inherits the test's environment (SECRET_NAME,
URL, the moto endpoint...) and calls `refresh_token` with nothing cached in the process.
"""

from __future__ import annotations

from typing import Any


def refresh_after_barrier(barrier: Any, queue: Any) -> None:
    """Import the drop-in, wait for every sibling at ``barrier``, then get the token."""
    from tokenprovider.compat import metadata_bank  # noqa: PLC0415 - in the child

    barrier.wait(60)
    try:
        queue.put(("ok", metadata_bank.refresh_token()["access_token"]))
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def refresh_once(queue: Any) -> None:
    """Get the token once (a cold container's invocation)."""
    from tokenprovider.compat import metadata_bank  # noqa: PLC0415 - in the child

    try:
        queue.put(("ok", metadata_bank.refresh_token()["access_token"]))
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(("error", f"{type(exc).__name__}: {exc}"))
