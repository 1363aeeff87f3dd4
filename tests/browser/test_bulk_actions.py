"""Bulk actions over a whole filter in headless Chromium against the live stack (gunicorn + a real
Celery worker): tick a page, "select all 60 matching", delete them across three pages with a result
per image (the protected one refused with its reason); the image ID column and its copy button."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.support.screenshots import screenshot

pytestmark = pytest.mark.browser
SLOW = 60_000  # ms: 60 deletions by the worker on a busy 2-CPU machine


def make_images(live_stack, prefix: str, count: int, protected: int) -> None:
    live_stack.shell(
        "from dashboard.models import Project; from images.models import Image; "
        "demo = Project.objects.get(name='demo'); "
        "Image.objects.bulk_create([Image(owner=demo.id, disk_format='raw', container_format='bare', "
        f"name='{prefix}-%02d' % n, protected=(n == {protected})) for n in range({count})])"
    )


def states(live_stack, prefix: str) -> dict:
    code = (
        "import json; from images.models import Image; "
        f"rows = Image.objects.filter(name__startswith='{prefix}-').values_list('name', 'status'); "
        "print(json.dumps(dict(rows)))"
    )
    return json.loads(live_stack.shell(code))


def test_select_all_matching_deletes_60_images_across_three_pages_with_a_result_each(
    page, live_stack, credentials
):
    prefix = f"bulk{uuid.uuid4().hex[:6]}"
    make_images(live_stack, prefix, 60, protected=17)
    other = f"other{uuid.uuid4().hex[:6]}"
    make_images(live_stack, other, 3, protected=-1)  # outside the filter
    sign_in(page, "demo", credentials["demo"])
    page.goto(f"/images/?name={prefix}-")
    expect(page.get_by_test_id("count")).to_contain_text("60 images · page 1 of 3")

    banner = page.get_by_role("status").filter(has_text="on this page are selected")
    expect(banner).to_be_hidden()
    page.get_by_label("Select all", exact=True).check()
    expect(banner).to_contain_text("All 25 images on this page are selected.")
    banner.get_by_role("button", name="Select all 60 matching images").click()
    expect(page.get_by_text("All 60 matching images are selected.")).to_be_visible()
    screenshot(page, "images-select-all-matching.png")

    page.get_by_role("button", name="Delete Images").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("You have selected all 60 images matching the filter")
    expect(dialog.get_by_test_id("refusal-count")).to_have_text("1 of them is protected and will be refused.")
    expect(dialog.get_by_test_id("more")).to_contain_text("and 10 more")
    dialog.get_by_role("button", name="Delete Images").click()

    # The progress page follows the worker until every image has its result.
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    job = page.get_by_test_id("bulk-job")
    expect(job).to_have_attribute("data-job-status", "done", timeout=SLOW)
    counts = page.get_by_test_id("bulk-counts")
    expect(counts.locator("[data-count=done]")).to_have_text("59 done")
    expect(counts.locator("[data-count=refused]")).to_have_text("1 refused")
    expect(counts.locator("[data-count=failed]")).to_have_text("0 failed")
    results = page.get_by_test_id("bulk-results")
    expect(results.locator("tr[data-result]")).to_have_count(60)
    refused = results.locator(f'tr[data-item="{prefix}-17"]')
    expect(refused).to_have_attribute("data-result", "refused")
    expect(refused).to_contain_text("Image is protected and cannot be deleted.")
    expect(results.locator(f'tr[data-item="{prefix}-59"]')).to_have_attribute("data-result", "done")
    screenshot(page, "bulk-job.png")

    final = states(live_stack, prefix)
    assert len(final) == 60 and final.pop(f"{prefix}-17") == "queued"
    assert set(final.values()) == {"deleted"}
    assert set(states(live_stack, other).values()) == {"queued"}

    # Back on the panel only the protected image is left.
    page.get_by_role("link", name="Back to the list").click()
    expect(page.locator("tr[data-image-id]")).to_have_count(1)
    expect(page.locator(f'tr[data-image="{prefix}-17"]')).to_have_count(1)


def test_the_image_id_column_copies_the_id_and_the_list_fits_1366_pixels(page, live_stack, credentials):
    prefix = f"idcol{uuid.uuid4().hex[:6]}"
    make_images(live_stack, prefix, 2, protected=1)
    page.set_viewport_size({"width": 1366, "height": 860})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, "demo", credentials["demo"])
    page.goto(f"/images/?name={prefix}-")
    row = page.locator(f'tr[data-image="{prefix}-01"]')
    image_id = row.get_attribute("data-image-id")
    expect(row.get_by_test_id("image-id")).to_have_text(f"{image_id[:8]}…")
    expect(row.get_by_role("button", name=f"Copy the ID of {prefix}-01")).to_have_count(1)
    button = row.locator("[data-copy]")
    expect(button.locator("i")).to_have_attribute("aria-hidden", "true")
    button.click()
    expect(button).to_have_attribute("data-copied", "yes")
    expect(button).to_have_attribute("aria-label", "Copied")
    assert page.evaluate("navigator.clipboard.readText()") == image_id
    # At 1366 px the minor columns fold (protection moves next to the name) and nothing scrolls sideways.
    table = page.get_by_test_id("images")
    expect(page.locator("th", has_text="Server")).to_be_hidden()
    expect(row.locator(".unfold .bi-shield-lock-fill")).to_be_visible()
    assert table.evaluate("t => t.parentElement.scrollWidth <= t.parentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_select_all_matching_deletes_every_instance_the_filter_matches(page, live_stack, credentials):
    prefix = f"fleet{uuid.uuid4().hex[:6]}"
    # Rows only, on no host: deleting such an instance finishes at once (Nova's local delete).
    live_stack.shell(
        "import uuid; from dashboard.models import Project; from instances.models import Instance; "
        "demo = Project.objects.get(name='demo'); "
        "Instance.objects.bulk_create([Instance(id=uuid.uuid4(), project=demo, name=name, flavor_ref='x', "
        "flavor_name='x', vcpus=1, memory_mb=64, root_gb=1, vm_state='active', power_state=1) "
        f"for name in ['{prefix}-%02d' % n for n in range(45)] + ['keep-{prefix}']])"
    )
    try:
        sign_in(page, "demo", credentials["demo"])
        page.goto(f"/instances/?name={prefix}-")
        expect(page.get_by_test_id("count")).to_contain_text("Displaying 20 of 45 items")
        page.get_by_label("Select all", exact=True).check()
        page.get_by_role("button", name="Select all 45 matching instances").click()
        expect(page.get_by_text("All 45 matching instances are selected.")).to_be_visible()
        page.get_by_role("button", name="Delete Instances").click()
        confirm = page.get_by_test_id("confirm")
        expect(confirm).to_contain_text("You have selected all 45 instances matching the filter")
        confirm.get_by_role("button", name="Delete").click()
        expect(page.get_by_test_id("bulk-job")).to_have_attribute("data-job-status", "done", timeout=SLOW)
        expect(page.get_by_test_id("bulk-counts").locator("[data-count=done]")).to_have_text("45 done")
        left = live_stack.shell(
            "from instances.models import Instance; "
            f"alive = Instance.objects.filter(name__contains='{prefix}', deleted=False); "
            "print(sorted(alive.values_list('name', flat=True)))"
        )
        assert left == f"['keep-{prefix}']"
    finally:
        # The shared stack's demo project is left as it was: other tests count its instances.
        live_stack.shell(
            "from instances.models import Instance; "
            f"Instance.objects.filter(name__contains='{prefix}').delete()"
        )
