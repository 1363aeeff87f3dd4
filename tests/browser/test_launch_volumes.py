"""Launch Instance with volumes in headless Chromium against the live stack (real Celery
worker, TCG compute agent): boot from a volume made in the Volumes panel and keep it after the
delete; boot from an image onto a new volume that goes with the instance."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_instances import row_of
from tests.browser.test_login import sign_in
from tests.instances.compute.test_live_volumes import demo  # noqa: F401 (fixture: Cloud and Cinder callers)
from tests.instances.live import Cloud, token
from tests.support.wait import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]


def launch(page, name: str) -> None:
    """Name the instance, pick t.marker, launch, and watch its row go BUILD → ACTIVE."""
    page.get_by_label("Instance Name").fill(name)
    page.get_by_label("Use t.marker", exact=True).check()
    expect(page.get_by_test_id("will-use")).to_contain_text("1 × t.marker")
    page.get_by_role("button", name="Launch Instance").click()
    expect(page.get_by_role("alert").first).to_contain_text(f"Launching {name}")
    expect(row_of(page, name)).to_have_attribute("data-status", re.compile("BUILD|ACTIVE"))
    expect(row_of(page, name)).to_have_attribute("data-status", "ACTIVE", timeout=180_000)


def delete_instance(page, name: str) -> None:
    page.goto("/instances/")
    row = row_of(page, name)
    row.get_by_role("button", name=f"Actions for {name}").click()
    row.get_by_role("link", name="Delete Instance").click()
    page.get_by_test_id("confirm").get_by_role("button", name="Delete").click()
    expect(row_of(page, name)).to_have_count(0, timeout=90_000)


def volume_status(page, volume_id: str) -> str | None:
    page.goto("/volumes/")
    row = page.locator(f'tr[data-volume="{volume_id}"]')
    return row.get_attribute("data-status") if row.count() else None


def test_boot_from_a_volume_made_in_the_volumes_panel_and_keep_it(
    page,
    live_stack,
    credentials,
    compute_host,
    marker_image,
    demo,  # noqa: F811
):
    _, volumes = demo
    suffix = uuid.uuid4().hex[:6]
    volume_name, name = f"bootvol-{suffix}", f"onvol-{suffix}"
    sign_in(page, "demo", credentials["demo"])
    page.goto("/volumes/")
    page.get_by_role("link", name="Create Volume").click()
    page.get_by_label("Volume Name").fill(volume_name)
    page.get_by_label("Volume Source").select_option(marker_image["id"])
    page.get_by_label("Size (GiB)").fill("1")
    page.get_by_role("button", name="Create Volume").click()
    row = page.locator("tr[data-volume]", has_text=volume_name)
    expect(row).to_have_attribute("data-status", "available", timeout=120_000)
    volume_id = row.get_attribute("data-volume")

    row.get_by_role("link", name="Launch as Instance").click()
    expect(page.locator("#source-volume")).to_be_checked()
    expect(page.locator(f'input[name=volume][value="{volume_id}"]')).to_be_checked()
    page.locator("label[for=delete-volume-no]").click()
    expect(page.locator("#delete-volume-no")).to_be_checked()
    expect(page.get_by_test_id("count-note")).to_contain_text("one instance per launch")
    launch(page, name)

    row_of(page, name).get_by_role("link", name=name).click()
    vda = page.locator('tr[data-disk="vda"]')
    expect(vda).to_contain_text("root disk: persistent volume, made from image marker")
    expect(vda.get_by_test_id("disk-volume")).to_have_text(volume_name)
    expect(vda).to_contain_text("no, the volume stays")
    page.get_by_role("link", name="Log", exact=True).click()

    def console_has_marker() -> bool:
        with page.expect_response(re.compile(r"/log/")):
            page.get_by_role("button", name="Refresh").click()
        return marker_image["marker"] in page.get_by_test_id("console").inner_text()

    wait_for(console_has_marker, timeout=90, interval=1, what="the marker on the volume-booted console")
    assert volume_status(page, volume_id) == "in-use"
    expect(page.locator(f'tr[data-volume="{volume_id}"]').get_by_test_id("attached-to")).to_contain_text(
        f"/dev/vda on {name}"
    )

    delete_instance(page, name)
    wait_for(lambda: volume_status(page, volume_id) == "available", timeout=60, what="the volume back")
    expect(page.locator(f'tr[data-volume="{volume_id}"]').get_by_test_id("attached-to")).to_have_count(0)
    assert volumes.delete(volume_id).status_code == 202


def test_boot_from_an_image_onto_a_new_volume_that_goes_with_the_instance(
    page, live_stack, credentials, compute_host, marker_image
):
    name = f"newvol-{uuid.uuid4().hex[:6]}"
    sign_in(page, "demo", credentials["demo"])
    page.goto(f"/instances/launch/?image={marker_image['id']}")
    page.locator("label[for=create-volume-yes]").click()
    expect(page.get_by_test_id("volume-size-rule")).to_contain_text("At least 1 GB")
    expect(page.get_by_label("Volume Size (GB)")).to_have_value("1")
    page.locator("label[for=delete-volume-yes]").click()
    expect(page.locator("#delete-volume-yes")).to_be_checked()
    page.get_by_label("Use t.marker", exact=True).check()
    expect(page.get_by_test_id("will-use")).to_contain_text("a new 1 GB volume")
    expect(page.get_by_test_id("will-use")).to_contain_text("deleted with the instance")
    launch(page, name)

    row_of(page, name).get_by_role("link", name=name).click()
    vda = page.locator('tr[data-disk="vda"]')
    expect(vda).to_contain_text("persistent volume")
    href = vda.get_by_test_id("disk-volume").get_attribute("href")
    volume_id = href.rsplit("#volume-", 1)[1]
    assert volume_status(page, volume_id) == "in-use"

    delete_instance(page, name)
    wait_for(lambda: volume_status(page, volume_id) is None, timeout=90, what="the volume to be deleted")
    # Cloud/token are the API view of the same: the volume is gone there too.
    cloud = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    attached = cloud.get("/servers/detail?deleted=False", "2.3").json()["servers"]
    assert all(v["id"] != volume_id for s in attached for v in s["os-extended-volumes:volumes_attached"])
