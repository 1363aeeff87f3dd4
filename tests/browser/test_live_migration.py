"""Live Migrate in headless Chromium against the live stack with two real compute agents (QEMU,
TCG): from the Hypervisors panel to a host's instances, the row's Live Migrate dialog with its
choice of host, and the row following MIGRATING to ACTIVE by itself."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_instance_operations import SLOW, row_menu
from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token
from tests.support.wait import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_an_admin_live_migrates_an_instance_from_the_hypervisors_panel(
    page, live_stack, credentials, compute_host, marker_image
):
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    second = f"live-b{uuid.uuid4().hex[:4]}"
    agent = live_stack.start_compute_agent(second, env={"STRATUS_QEMU_ACCEL": "tcg"})
    name = f"lm-{uuid.uuid4().hex[:6]}"
    server_id = ""
    try:
        server_id = admin.create(
            name, marker_image["id"], marker_image["flavor"], availability_zone="nova:live1"
        )
        admin.wait_status(server_id, "ACTIVE")
        sign_in(page, "admin", credentials["admin"])
        page.goto("/admin/hypervisors/")
        page.locator('a[href="/admin/instances/?host=live1"]').click()
        row = page.locator(f'tr[data-instance="{name}"]')
        expect(row).to_be_visible()

        row_menu(page, name, "Live Migrate Instance", role="link")
        page.get_by_label("New host").select_option(second)
        page.get_by_role("button", name="Live Migrate", exact=True).click()
        expect(page.get_by_role("alert").first).to_contain_text(f"{name} is moving to {second}")
        page.goto("/admin/instances/")  # every host's instances: it leaves live1's list once moved
        row = page.locator(f'tr[data-instance="{name}"]')
        settled = wait_for(
            lambda: (s := admin.server(server_id))["OS-EXT-STS:task_state"] is None and s,
            timeout=SLOW / 1000,
            what=f"the live migration of {name} to end",
        )
        if settled["OS-EXT-SRV-ATTR:host"] != second:  # given up: say why, with both agents' logs
            fault = live_stack.shell(
                "from instances.models import Instance; "
                f"print(Instance.objects.get(pk='{server_id}').fault_message)"
            )
            pytest.fail(
                f"the live migration failed: {fault}\n--- live1\n{live_stack.log('compute-live1')[-4000:]}"
                f"\n--- {second}\n{live_stack.log(f'compute-{second}')[-4000:]}"
            )
        # The row, polling by itself, follows the move without a reload.
        expect(row).to_have_attribute("data-status", "ACTIVE", timeout=SLOW)
        expect(row).to_contain_text(second, timeout=SLOW)
    finally:
        if server_id:
            admin.delete(f"/servers/{server_id}")
            admin.wait_deleted(server_id)
        service = next(s for s in admin.get("/os-services", "2.53").json()["services"] if s["host"] == second)
        admin.put(f"/os-services/{service['id']}", {"status": "disabled"}, "2.53")
        live_stack.services.pop(f"compute-{second}", agent).stop()
