"""Admin → Hypervisors in headless Chromium at 1366 px: a compute host that holds nothing and is
down (its agent gone) offers Remove Host, which asks for confirmation; confirmed, the host is
off the page and the API."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_an_admin_removes_an_empty_host_from_the_hypervisors_panel(page, live_stack, credentials):
    name = f"gone-{uuid.uuid4().hex[:6]}"
    # A host as an agent registered it once; its agent has been stopped for good since.
    live_stack.shell(
        "from instances.models import ComputeHost; "
        f"ComputeHost.objects.create(name='{name}', hypervisor_type='qemu', arch='x86_64', "
        "vcpus=4, memory_mb=4096, local_gb=40, enabled=False, disabled_reason='retired')"
    )
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    page.set_viewport_size({"width": 1366, "height": 860})
    sign_in(page, "admin", credentials["admin"])
    page.goto("/admin/hypervisors/")
    card = page.locator(f'[data-host="{name}"]')
    expect(card.get_by_test_id("state")).to_have_text("Down")
    expect(card.get_by_test_id("migrate-host")).to_have_count(0)
    expect(card.get_by_test_id("evacuate-host")).to_have_count(0)
    remove = card.get_by_test_id("remove-host")
    expect(remove.locator("i")).to_have_attribute("aria-hidden", "true")
    box = remove.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366
    remove.click()
    # A confirmation first: nothing is removed yet; it is confirmed from the keyboard.
    expect(page.get_by_role("heading", name=f"Remove Host {name}")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel")).to_be_visible()
    assert admin.get(f"/os-services?host={name}", "2.53").json()["services"] != []
    confirm = page.get_by_role("button", name="Remove Host")
    confirm.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Compute host {name} was removed.")).to_be_visible()
    expect(page.locator(f'[data-host="{name}"]')).to_have_count(0)
    hosts = admin.get(f"/os-services?host={name}", "2.53").json()["services"]
    assert hosts == []
