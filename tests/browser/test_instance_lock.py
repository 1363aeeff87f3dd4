"""Locking an instance in headless Chromium against the live stack with a real compute agent:
lock from the row menu, the lock in the list, a member's action refused with the reason, unlock."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_instances import row_of
from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token
from tests.support.screenshots import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.live]


def open_row_menu(page, name: str):
    row = row_of(page, name)
    row.get_by_role("button", name=f"Actions for {name}").click()
    return row


def test_demo_locks_an_instance_sees_the_lock_and_its_actions_are_refused_until_unlocked(
    page, live_stack, credentials, compute_host, marker_image
):
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    name = f"locked-{uuid.uuid4().hex[:6]}"
    server_id = demo.create(name, marker_image["id"], marker_image["flavor"])
    try:
        demo.wait_status(server_id, "ACTIVE", interval=0.5)
        sign_in(page, "demo", credentials["demo"])
        page.goto("/instances/")
        row = row_of(page, name)
        expect(row.get_by_test_id("locked")).to_have_count(0)

        open_row_menu(page, name).get_by_role("link", name="Lock Instance").click()
        page.get_by_label("Reason").fill("quarterly audit")
        page.get_by_role("button", name="Lock", exact=True).click()
        expect(page.get_by_text(f"Instance {name} is locked.")).to_be_visible()
        lock = row_of(page, name).get_by_test_id("locked")
        expect(lock).to_be_visible()
        expect(lock.locator("i.bi-lock-fill")).to_have_attribute("aria-hidden", "true")
        expect(lock).to_contain_text("Locked: quarterly audit")  # the icon's text alternative
        screenshot(page, "instance-locked.png")

        open_row_menu(page, name).get_by_role("button", name="Shut Off", exact=True).click()
        expect(page.get_by_text(f"Instance {server_id} is locked")).to_be_visible()
        assert demo.server(server_id)["status"] == "ACTIVE"
        assert demo.server(server_id)["locked_reason"] == "quarterly audit"

        page.goto("/instances/")
        open_row_menu(page, name).get_by_role("button", name="Unlock Instance").click()
        expect(row_of(page, name).get_by_test_id("locked")).to_have_count(0)
        assert demo.server(server_id)["locked"] is False
    finally:
        demo.delete(f"/servers/{server_id}")
        demo.wait_deleted(server_id, timeout=120)
