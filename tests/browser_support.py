"""A real headless Chromium for the login tests: Debian's ``chromium`` driven by Selenium
through the system ``chromedriver``.

A test module imports the fixture and the helpers it uses::

    from browser_support import chromium, log_in_in_browser  # noqa: F401 (a fixture)

Nothing is downloaded at run time (a driver path is given, so Selenium Manager never
runs) and the browser is started with its background networking off: it reaches nothing
beyond the loopback servers of the tests. Where Chromium, its driver or Selenium is
missing, a test that needs the browser is skipped with a message saying how to install
them; under CI (``CI=true``) it fails instead, since CI must have a browser.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
#: The longest an explicit wait (a page, an element) may take.
WAIT_SECONDS = 20.0


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if absent:
        return (
            f"no browser for the login tests: {' and '.join(absent)} not found; install "
            "them with `apt-get install chromium chromium-driver`"
        )
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed: `make dev` installs it (the dev dependency group)"
    return None


def require_browser() -> None:
    """Skip the current test when there is no browser, or fail it under ``CI=true``."""
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: CI must have a browser)", pytrace=False)
    pytest.skip(reason)


def start_chromium(profile: Path) -> WebDriver:
    """A headless Chromium with a fresh profile in the (empty) directory ``profile``."""
    from selenium import webdriver  # noqa: PLC0415 - only the browser tests load it
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    return driver


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """A headless Chromium (fresh profile) shared by the tests of one module."""
    require_browser()
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


def log_in_in_browser(
    driver: WebDriver, url: str, user: str, password: str, approve: bool = True
) -> str:
    """Open ``url`` (an authorization URL of `tokenprovider.testing.LocalOAuthServer`),
    fill in its login form, approve (or deny), and return the text of the page the
    browser lands on after the server's redirect."""
    from selenium.common.exceptions import TimeoutException  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support import expected_conditions  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    wait = WebDriverWait(driver, WAIT_SECONDS)
    driver.get(url)
    name = wait.until(expected_conditions.presence_of_element_located((By.ID, "username")))
    name.send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "approve" if approve else "deny").click()
    try:
        wait.until(expected_conditions.staleness_of(name))
        wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "h1")))
    except TimeoutException:
        console = [entry.get("message") for entry in driver.get_log("browser")]
        pytest.fail(f"the browser stayed on the login form; its console said: {console}")
    return str(driver.find_element(By.TAG_NAME, "body").text)
