"""Browser fixtures: Debian's headless Chromium driven by Selenium, and the API served from a thread.

The browser is a hard requirement: without ``chromium`` and ``chromedriver`` the tests fail with the
command that installs them (``make browser``), they are never skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
ARTIFACTS_DIR: Final = REPO_ROOT / "test-artifacts" / "explorer"
"""Screenshots of every page the tests visit (git-ignored; CI keeps the directory as an artifact)."""
BROWSER_BINARY: Final = "chromium"
DRIVER_BINARY: Final = "chromedriver"
INSTALL_HINT: Final = "run `make browser` (apt-get install -y chromium chromium-driver)"
WINDOW_WIDTH_PX: Final = 1280
WINDOW_HEIGHT_PX: Final = 900
PAGE_LOAD_TIMEOUT_S: Final = 60.0
"""Pages render in milliseconds; a page that takes this long is a hang, not slowness."""


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: the explorer's browser tests need it; {INSTALL_HINT}")
    return path


def start_chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = require_binary(BROWSER_BINARY)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",  # small /dev/shm in containers
        "--disable-gpu",
        "--lang=en-US",
        f"--window-size={WINDOW_WIDTH_PX},{WINDOW_HEIGHT_PX}",
    ):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(options=options, service=Service(require_binary(DRIVER_BINARY)))
    except WebDriverException as exc:
        pytest.fail(f"Chromium did not start ({exc.msg}); {INSTALL_HINT}")
    driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
    return driver


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR
