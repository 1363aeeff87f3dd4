"""Shelve and unshelve from the Instances panel's row menu in headless Chromium, against the live
stack with a real compute agent (QEMU, TCG): the row follows the states by itself."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_instances import row_action, row_of
from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, qemu_pids, token

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_demo_shelves_an_instance_and_unshelves_it_from_the_row_menu(
    page, live_stack, credentials, compute_host, marker_image
):
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    name = f"shelf-{uuid.uuid4().hex[:6]}"
    server_id = demo.create(name, marker_image["id"], marker_image["flavor"])
    demo.wait_status(server_id, "ACTIVE")

    sign_in(page, "demo", credentials["demo"])
    page.goto("/instances/")
    row = row_of(page, name)
    expect(row).to_have_attribute("data-status", "ACTIVE")
    row_action(page, name, "Shelve Instance")
    expect(row).to_have_attribute("data-status", "SHELVED_OFFLOADED", timeout=180_000)
    assert qemu_pids(server_id) == []

    row_action(page, name, "Unshelve Instance")
    expect(row).to_have_attribute("data-status", "ACTIVE", timeout=180_000)
    expect(row.get_by_test_id("power")).to_have_text("Running")
    assert len(qemu_pids(server_id)) == 1

    assert demo.delete(f"/servers/{server_id}").status_code == 204
    demo.wait_deleted(server_id)
