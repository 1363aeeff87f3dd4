"""README screenshots, taken by the browser tests only when STRATUS_SCREENSHOTS names a directory,
so an ordinary test run never changes files in the checkout."""

from __future__ import annotations

import os
from pathlib import Path


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    out = os.environ.get("STRATUS_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / name), full_page=full_page)
