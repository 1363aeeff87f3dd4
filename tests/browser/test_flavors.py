"""Admin → Flavors in headless Chromium: a private flavor stays invisible to other projects."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_login import sign_in

pytestmark = pytest.mark.browser


def test_a_private_flavor_made_for_one_project_is_hidden_from_another(page, browser, live_stack, credentials):
    name = f"private-{uuid.uuid4().hex[:8]}"
    sign_in(page, "admin", credentials["admin"])
    page.locator("[data-section=Admin]").get_by_role("link", name="Flavors").click()
    expect(page).to_have_url(re.compile(r"/admin/flavors/$"))
    page.get_by_role("link", name="Create Flavor").click()

    # Step 1: Flavor Information.
    page.get_by_label("Name").fill(name)
    page.get_by_label("vCPUs").fill("2")
    page.get_by_label("RAM (MB)").fill("1024")
    page.get_by_label("Root Disk (GB)").fill("10")
    page.get_by_label("Swap Disk (MB)").fill("512")
    page.get_by_role("button", name="Next").click()

    # Step 2: Flavor Access, for the admin project only.
    access = page.get_by_test_id("project-choices")
    expect(access).to_be_visible()
    access.get_by_label("admin", exact=True).check()
    page.get_by_role("button", name="Create Flavor").click()

    expect(page.get_by_role("alert")).to_contain_text(f'Created new flavor "{name}"')
    row = page.locator(f'tr[data-flavor="{name}"]')
    expect(row).to_contain_text("No")
    expect(row.get_by_test_id("access")).to_have_text("admin")
    expect(row.locator("td").nth(6)).to_have_text("512")

    # A member of demo, which has no access, does not see it where flavors are picked to launch.
    demo_context = browser.new_context(base_url=live_stack.url)
    try:
        demo = demo_context.new_page()
        sign_in(demo, "demo", credentials["demo"])
        demo.locator("[data-section=Project]").get_by_role("link", name="Flavors").click()
        table = demo.get_by_test_id("launch-flavors")
        expect(table.locator('tr[data-flavor="m1.tiny"]')).to_have_count(1)
        expect(table.locator(f'tr[data-flavor="{name}"]')).to_have_count(0)
    finally:
        demo_context.close()

    # The admin, working in the admin project, sees it among the flavors to launch with.
    page.goto("/flavors/")
    expect(page.get_by_test_id("launch-flavors").locator(f'tr[data-flavor="{name}"]')).to_have_count(1)

    # Delete it through the bulk action and its confirmation.
    page.goto("/admin/flavors/")
    page.get_by_label(f"Select {name}").check()
    page.get_by_role("button", name="Delete Flavors").click()
    expect(page.get_by_test_id("in-use")).to_contain_text("No instance uses this flavor")
    page.get_by_role("button", name="Delete Flavor").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Deleted 1 flavor: {name}")
    expect(page.locator(f'tr[data-flavor="{name}"]')).to_have_count(0)


def test_the_create_form_shows_horizon_validation_errors(page, credentials):
    sign_in(page, "admin", credentials["admin"])
    page.goto("/admin/flavors/create/")
    page.get_by_label("Name").fill("m1.TINY")
    page.get_by_label("vCPUs").fill("0")
    page.get_by_label("RAM (MB)").fill("512")
    page.get_by_label("Root Disk (GB)").fill("1")
    page.get_by_role("button", name="Create Flavor").click()
    expect(page.locator("[data-field=name]")).to_contain_text(
        'The name "m1.TINY" is already used by another flavor.'
    )
    expect(page.locator("[data-field=vcpus]")).to_contain_text("greater than or equal to 1")
