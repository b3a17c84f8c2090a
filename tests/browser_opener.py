"""A person's browser, for ``BROWSER``: ``python browser_opener.py RESULT USER PASSWORD URL``.

Starts its own headless Chromium (`browser_support`), logs USER in at URL (a
`LocalOAuthServer` authorization URL), and writes the text of the page the browser lands
on to the file RESULT. An alarm ends it if it hangs. Exit status 0 once RESULT is written.
"""

from __future__ import annotations

import signal
import sys
import tempfile
from pathlib import Path

from browser_support import log_in_in_browser, start_chromium

#: The most this program may run, in seconds (the default action of SIGALRM ends it).
LIMIT = 90


def main(result: str, user: str, password: str, url: str) -> None:
    signal.alarm(LIMIT)
    with tempfile.TemporaryDirectory() as profile:
        driver = start_chromium(Path(profile))
        try:
            text = log_in_in_browser(driver, url, user, password)
        finally:
            driver.quit()
    Path(result).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
