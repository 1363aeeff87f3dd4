"""User settings in headless Chromium against the live stack: a password change ends the user's
other browser sessions and their API tokens; the time zone shows the dates in local time."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.support.screenshots import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.live]

OLD, NEW = "first-Passphrase-for-tests-1", "second-Passphrase-for-tests-2"


def test_a_password_change_ends_the_other_sessions_and_tokens_of_the_user(page, browser, live_stack):
    name = f"pw-{uuid.uuid4().hex[:6]}"
    live_stack.shell(
        "from dashboard.identity import admin\nfrom dashboard.models import Project, Role\n"
        f"u = admin.create_user('{name}', '{OLD}', default_project=Project.objects.get(name='demo'))\n"
        "admin.grant(u, Project.objects.get(name='demo'), Role.objects.get(name='member'))\n"
    )
    tok = live_stack.token(name, OLD, "demo")

    def servers_status(token: str) -> int:
        return requests.get(
            f"{live_stack.url}/compute/v2.1/servers", headers={"X-Auth-Token": token}, timeout=30
        ).status_code

    assert servers_status(tok) == 200
    other_context = browser.new_context(base_url=live_stack.url, viewport={"width": 1366, "height": 768})
    other_context.set_default_timeout(15_000)
    other = other_context.new_page()
    try:
        sign_in(other, name, OLD)
        expect(other.get_by_test_id("user-menu")).to_contain_text(name)
        sign_in(page, name, OLD)

        page.get_by_test_id("user-menu").click()
        page.get_by_role("link", name="Change Password").click()
        page.get_by_label("Current password").fill("not-the-password")
        page.get_by_label(re.compile(r"^New password")).fill(NEW)
        page.get_by_label("Confirm new password").fill(NEW)
        page.get_by_role("button", name="Change Password").click()
        expect(page.locator("[data-field=current_password]")).to_contain_text(
            "The current password is not correct."
        )
        assert servers_status(tok) == 200  # a refused change ends nothing

        page.get_by_label("Current password").fill(OLD)
        page.get_by_label(re.compile(r"^New password")).fill(NEW)
        page.get_by_label("Confirm new password").fill(NEW)
        page.get_by_role("button", name="Change Password").click()
        expect(page.get_by_role("alert").first).to_contain_text(
            "Password changed. Your other sessions and your API tokens have ended."
        )
        # This browser goes on; the other one is signed out at its next request; the token is dead.
        page.goto("/")
        expect(page.get_by_test_id("user-menu")).to_contain_text(name)
        other.goto("/")
        expect(other).to_have_url(re.compile(r"/auth/login/"))
        assert servers_status(tok) == 401
        assert servers_status(live_stack.token(name, NEW, "demo")) == 200
    finally:
        other_context.close()


def test_the_settings_page_changes_the_time_zone_of_the_dates(page, live_stack, credentials):
    sign_in(page, "demo", credentials["demo"])
    page.get_by_test_id("user-menu").click()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="User Settings")).to_be_visible()
    page.get_by_label("Items per page").select_option("10")
    page.get_by_label("Time zone").select_option("Asia/Kolkata")
    screenshot(page, "user-settings.png")
    page.get_by_role("button", name="Save").click()
    try:
        expect(page.get_by_role("alert").first).to_contain_text("Settings saved.")
        expect(page.get_by_label("Time zone")).to_have_value("Asia/Kolkata")
    finally:
        live_stack.shell(
            "from dashboard.models import User\n"
            "User.objects.filter(username='demo').update(time_zone='', items_per_page=None)\n"
        )
