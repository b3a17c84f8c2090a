"""A "browser" for the BROWSER variable: ``python http_person.py URL [RECORD]`` logs alice in
at the local server's authorization page over HTTP, as tests/login_support.py does, and
(with RECORD) appends the URL's path to that file, so tests can tell it was opened. Her
password is login_support.PASSWORD, or PERSON_PASSWORD when that variable is set."""

from __future__ import annotations

import os
import sys
import urllib.parse

from login_support import PASSWORD, approve  # the script's directory is first on sys.path

if __name__ == "__main__":
    url = sys.argv[1]
    if len(sys.argv) > 2:
        with open(sys.argv[2], "a", encoding="utf-8") as record:
            record.write(urllib.parse.urlsplit(url).path + "\n")
    if "/oauth2/authorize" in url:
        approve(url, password=os.environ.get("PERSON_PASSWORD", PASSWORD))
