"""Resize (revert, then confirm) and rescue in headless Chromium against the live stack with its
real compute agent (QEMU, TCG): the Resize dialog's flavor table, the row following the states by
itself, Confirm Resize / Revert Resize on the row, Rescue Instance and Unrescue Instance."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token

pytestmark = [pytest.mark.browser, pytest.mark.live]

BIGGER = {"name": "t.marker-2", "ram": 192, "vcpus": 2, "disk": 2, "OS-FLV-EXT-DATA:ephemeral": 1}
SLOW = 120_000


def row_menu(page, name: str, label: str, role: str = "button") -> None:
    row = page.locator(f'tr[data-instance="{name}"]')
    row.get_by_role("button", name=f"Actions for {name}").click()
    row.get_by_role(role, name=label, exact=True).click()


def resize_to_bigger(page, name: str) -> None:
    row_menu(page, name, "Resize Instance", role="link")
    flavors = page.get_by_test_id("flavors")
    expect(flavors.locator('tr[data-flavor="t.marker"]').get_by_test_id("reason")).to_contain_text(
        "This is the instance's flavor now."
    )
    page.get_by_label(f"Use {BIGGER['name']}", exact=True).check()
    page.get_by_role("button", name="Resize", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text(f"Resize of {name}")


def test_resize_with_revert_then_confirm_and_rescue_in_the_dashboard(
    page, live_stack, credentials, compute_host, marker_image
):
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin")).ensure_flavor(BIGGER)
    name = f"ops-{uuid.uuid4().hex[:6]}"
    server_id = demo.create(name, marker_image["id"], marker_image["flavor"])
    try:
        demo.wait_status(server_id, "ACTIVE")
        sign_in(page, "demo", credentials["demo"])
        page.goto("/instances/")
        row = page.locator(f'tr[data-instance="{name}"]')

        resize_to_bigger(page, name)
        expect(row).to_have_attribute("data-status", "VERIFY_RESIZE", timeout=SLOW)
        expect(row).to_contain_text("2 vCPU · 192 MB")
        row.get_by_test_id("revert_resize").click()
        expect(row).to_have_attribute("data-status", "ACTIVE", timeout=SLOW)
        expect(row).to_contain_text("1 vCPU · 128 MB")

        resize_to_bigger(page, name)
        expect(row).to_have_attribute("data-status", "VERIFY_RESIZE", timeout=SLOW)
        row.get_by_test_id("confirm_resize").click()
        expect(row).to_have_attribute("data-status", "ACTIVE", timeout=SLOW)
        expect(row).to_contain_text("2 vCPU · 192 MB")
        expect(row.get_by_test_id("confirm_resize")).to_have_count(0)

        row_menu(page, name, "Rescue Instance", role="link")
        page.get_by_role("button", name="Rescue", exact=True).click()
        expect(row).to_have_attribute("data-status", "RESCUE", timeout=SLOW)
        row_menu(page, name, "Unrescue Instance")
        expect(row).to_have_attribute("data-status", "ACTIVE", timeout=SLOW)
        assert demo.server(server_id)["flavor"]["original_name"] == BIGGER["name"]
    finally:
        demo.delete(f"/servers/{server_id}")
        demo.wait_deleted(server_id)
