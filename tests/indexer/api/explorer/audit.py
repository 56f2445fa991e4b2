"""Checks run in the browser on every page the tests open: accessibility basics and layout.

The audit is a script evaluated in the page (real layout, real computed styles): WCAG 2 contrast of
every visible text against its effective background, a label for every form control, a caption
for every table, a text alternative for every figure, one ``h1``, unique ids, a language, and no
sideways scrolling of the page itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from selenium.webdriver.remote.webdriver import WebDriver

MIN_CONTRAST: Final = 4.5
"""WCAG 2.1 AA for normal text."""
MIN_CONTRAST_LARGE: Final = 3.0
"""WCAG 2.1 AA for large text (≥ 24 px, or ≥ 18.66 px bold)."""

AUDIT_JS: Final = (Path(__file__).parent / "audit.js").read_text()


def audit(driver: WebDriver) -> list[str]:
    """Every accessibility or layout problem of the current page (empty: none)."""
    problems: Any = driver.execute_script(AUDIT_JS, MIN_CONTRAST, MIN_CONTRAST_LARGE)
    return [str(p) for p in problems]
