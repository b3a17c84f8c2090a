"""A person's browser, for ``BROWSER``: ``python browser_opener.py RESULT USER PASSWORD URL``.

Starts its own headless Chromium (`browser_support`), logs USER in at URL (a
`LocalOAuthServer` authorization URL), and writes the text of the page the browser lands
on to the file RESULT. An alarm ends it if it hangs. Exit status 0 once RESULT is written.
From its start until then it holds an exclusive lock on RESULT.lock (`flock`), so that a
test whose program exits before the browser has finished can wait for it (`wait_for`).
"""

from __future__ import annotations

import fcntl
import signal
import sys
import tempfile
import threading
from pathlib import Path

from browser_support import log_in_in_browser, start_chromium

#: The most this program may run, in seconds (the default action of SIGALRM ends it).
LIMIT = 90


def wait_for(result: Path, timeout: float) -> None:
    """Wait until the opener writing ``result`` has finished (or ``timeout`` passes)."""
    with open(f"{result}.lock", "a") as lock:
        waiter = threading.Thread(target=fcntl.flock, args=(lock, fcntl.LOCK_EX), daemon=True)
        waiter.start()
        waiter.join(timeout)
        if waiter.is_alive():
            raise TimeoutError(f"the browser writing {result} did not finish in {timeout}s")


def main(result: str, user: str, password: str, url: str) -> None:
    signal.alarm(LIMIT)
    lock = open(f"{result}.lock", "a")  # noqa: SIM115 - held until the process ends
    fcntl.flock(lock, fcntl.LOCK_EX)
    with tempfile.TemporaryDirectory() as profile:
        driver = start_chromium(Path(profile))
        try:
            text = log_in_in_browser(driver, url, user, password)
        finally:
            driver.quit()
    Path(result).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
