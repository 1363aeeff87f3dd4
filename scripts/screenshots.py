#!/usr/bin/env python
"""Takes the README's screenshots of a running Stratus in headless Chromium.

Usage: scripts/screenshots.py URL ADMIN_PASSWORD DEMO_PASSWORD [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sign_in(page, username: str, password: str) -> None:
    page.goto("/auth/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def main(url: str, admin_pw: str, demo_pw: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=ARGS
        )
        context = browser.new_context(base_url=url, viewport={"width": 1360, "height": 820})
        page = context.new_page()
        page.goto("/auth/login/")
        page.screenshot(path=out / "login.png")
        sign_in(page, "admin", admin_pw)
        page.goto("/admin/users/")
        page.screenshot(path=out / "admin-users.png")
        for path, name in (
            ("/images/", "images.png"),
            ("/instances/launch/", "launch.png"),
            ("/instances/", "instances.png"),
            ("/admin/flavors/", "flavors.png"),
            ("/admin/hypervisors/", "hypervisors.png"),
            ("/", "overview.png"),
            ("/usage/", "usage.png"),
            ("/admin/usage/", "admin-usage.png"),
            ("/admin/defaults/", "admin-defaults.png"),
            ("/settings/", "user-settings.png"),
            ("/api-access/", "api-access.png"),
        ):
            if page.goto(path).ok:
                page.screenshot(path=out / name)
        page.goto("/admin/projects/")
        page.get_by_role("link", name="Modify Quotas of demo").click()
        page.screenshot(path=out / "modify-quotas.png", full_page=True)
        browser.close()
    print(f"Screenshots written to {out}")


if __name__ == "__main__":
    main(
        sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4] if len(sys.argv) > 4 else "docs/screenshots")
    )
