"""Login and the project switcher, clicked through in headless Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def sign_in(page, username: str, password: str) -> None:
    page.goto("/auth/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_signs_in_and_sees_the_admin_section(page, credentials):
    sign_in(page, "admin", credentials["admin"])
    expect(page.locator("[data-section=Admin]")).to_be_visible()
    page.get_by_role("link", name="Users").click()
    expect(page).to_have_url(re.compile(r"/admin/users/$"))
    expect(page.get_by_role("row").filter(has_text="member @ demo")).to_have_count(1)


def test_demo_signs_in_and_has_no_admin_section(page, credentials):
    sign_in(page, "demo", credentials["demo"])
    expect(page.locator("[data-section=Project]")).to_be_visible()
    expect(page.locator("[data-section=Admin]")).to_have_count(0)
    expect(page.locator("#current-project")).to_have_text("demo")


def test_a_wrong_password_keeps_the_user_on_the_login_page(page):
    sign_in(page, "demo", "definitely-wrong")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct")
    expect(page).to_have_url(re.compile(r"/auth/login/"))


def test_the_project_switcher_changes_the_current_project(page, credentials):
    sign_in(page, "admin", credentials["admin"])
    expect(page.locator("#current-project")).to_have_text("admin")
    page.get_by_test_id("project-switcher").get_by_role("button").first.click()
    page.get_by_role("button", name="demo").click()
    expect(page.locator("#current-project")).to_have_text("demo")
    expect(page.get_by_test_id("overview-project")).to_have_text("demo")
    expect(page.get_by_role("alert")).to_contain_text("Switched to project demo")


def test_signing_out_returns_to_the_login_page(page, credentials):
    sign_in(page, "demo", credentials["demo"])
    page.get_by_test_id("user-menu").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/auth/login/"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/auth/login/\?next=/"))
