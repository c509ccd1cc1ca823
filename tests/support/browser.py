"""A real browser for the console's tests: Debian's headless chromium driven by Selenium
through Debian's chromedriver (never Selenium Manager, which would download a browser), and a
real `openai-assistant-mcp api` server to point it at.

Without chromium the browser tests skip, saying why, unless REQUIRE_BROWSER=1 (CI), where
they fail instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Readiness waits on a loaded 2-core machine: generous, never proof of speed.
WAIT_SECONDS = 60.0
# How often a wait looks again: Selenium's default, 0.5 s, spent ~0.25 s per wait of a test
# for nothing (a look is one chromedriver round trip of a few ms).
POLL_SECONDS = 0.05
DESKTOP = (1280, 900)
PHONE = (390, 844)


def browser_missing() -> str | None:
    """Why there is no browser to test with (None when there is)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (path.exists() and os.access(path, os.X_OK)):
            return f"{path} is missing: apt-get install chromium chromium-driver"
    return None


def require_browser() -> None:
    missing = browser_missing()
    if missing is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {missing}")
    pytest.skip(missing)


@contextmanager
def chromium(size: tuple[int, int] = DESKTOP) -> Iterator[Any]:
    """A headless chromium WebDriver session, its profile in a temporary directory."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_browser()
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in CI containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    downloads = Path(profile) / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    driver.set_script_timeout(WAIT_SECONDS)
    driver.download_dir = downloads
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Console:
    """The console in a browser: open pages, sign in, wait for what the page shows."""

    driver: Any
    base_url: str  # http://127.0.0.1:PORT

    def open(self, page: str = "assistants", key: str | None = None, token: str = "") -> None:
        """Loads /ui/#/<page> afresh (no key kept) and, with `key`, signs in."""
        self.driver.get("about:blank")  # a new URL differing only by its hash would not reload
        self.driver.get(f"{self.base_url}/ui/#/{page}")
        self.wait(lambda d: d.execute_script("return document.documentElement.dataset.ready"))
        if key is not None:
            self.sign_in(key, token)

    def sign_in(self, key: str, token: str = "") -> None:
        form = self.find("form.keyform")
        form.find_element("name", "key").send_keys(key)
        if token:
            form.find_element("name", "token").send_keys(token)
        form.find_element("css selector", "button[type=submit]").click()
        # This form is replaced (a refused key or token brings a new prompt, maybe at once).
        from selenium.webdriver.support.expected_conditions import staleness_of

        self.wait(staleness_of(form))

    def wait(self, condition: Callable[[Any], Any], timeout: float = WAIT_SECONDS) -> Any:
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            # A page that re-renders between finding an element and reading it: look again.
            stale = (StaleElementReferenceException,)
            waiting = WebDriverWait(
                self.driver, timeout, poll_frequency=POLL_SECONDS, ignored_exceptions=stale
            )
            return waiting.until(condition)
        except TimeoutException as exc:  # say what the page showed instead
            shown = self.driver.execute_script("return document.body.innerText")
            raise AssertionError(
                f"waited {timeout} s; the page shows:\n{shown}\n"
                f"browser errors: {self.severe_console_messages()}"
            ) from exc

    def find(self, css: str) -> Any:
        """The first element matching `css`, once it is there."""
        return self.wait(lambda d: (d.find_elements("css selector", css) or [None])[0])

    def find_all(self, css: str) -> list[Any]:
        return list(self.driver.find_elements("css selector", css))

    def wait_text(self, css: str, text: str) -> Any:
        """The first element matching `css` whose text contains `text`, once there is one."""

        def found(driver: Any) -> Any:
            for element in driver.find_elements("css selector", css):
                if text in element.text:
                    return element
            return None

        return self.wait(found)

    def status(self) -> str:
        """The status line's text (errors are said there in one line)."""
        return str(self.find("#status").text)

    def severe_console_messages(self) -> list[str]:
        """The browser console's errors since the last call (CSP violations, exceptions)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry.get("level") == "SEVERE"
        ]
