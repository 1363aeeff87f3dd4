from __future__ import annotations

import os
import uuid

import pytest

from tests.plugin import TEST_ROOT
from tests.support.processes import ADMIN_PASSWORD, DEMO_PASSWORD, LiveStack, require


def pytest_configure(config) -> None:
    from django.conf import settings

    # In-process tests render templates without a collectstatic run, and hash test passwords quickly.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def live_stack():
    """The whole system running as `make run` runs it: Redis, a Celery worker and gunicorn."""
    stack = LiveStack(TEST_ROOT / f"live-{uuid.uuid4().hex[:8]}")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def credentials() -> dict[str, str]:
    return {"admin": ADMIN_PASSWORD, "demo": DEMO_PASSWORD}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH") or require("chromium")


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_stack):
    context = browser.new_context(base_url=live_stack.url, viewport={"width": 1360, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
