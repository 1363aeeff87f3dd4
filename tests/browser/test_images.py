"""Project → Images in headless Chromium against the live stack (gunicorn + a real Celery worker):
create from a qcow2 file and follow it to Active without reloading, edit, add a property, delete;
abort an upload and retry it into the same image; protected images and readers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.support.processes import require
from tests.support.screenshots import screenshot

pytestmark = pytest.mark.browser
SLOW = 90_000  # ms: a worker import on a busy 2-CPU machine


def make_qcow2(path: Path, size: str = "16M", random_mib: int = 0) -> Path:
    qemu_img = require("qemu-img")
    if random_mib:
        raw = path.with_suffix(".raw")
        raw.write_bytes(os.urandom(random_mib << 20))
        subprocess.run([qemu_img, "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)
        raw.unlink()
    else:
        subprocess.run([qemu_img, "create", "-f", "qcow2", str(path), size], check=True, capture_output=True)
    return path


def image_state(live_stack, image_id: str) -> dict:
    code = (
        "import json; from images.models import Image; from images.staging import staging_path; "
        f"i = Image.objects.get(pk='{image_id}'); "
        "print(json.dumps({'status': i.status, 'reason': i.reason, 'staged': staging_path(i.pk).exists(), "
        "'locations': i.locations.count(), 'properties': i.properties, 'name': i.name}))"
    )
    return json.loads(live_stack.shell(code))


def open_create(page):
    page.goto("/images/")
    page.get_by_role("button", name="Create Image").first.click()
    expect(page.locator("#create-image-modal")).to_be_visible()
    return page.locator("#create-image-form")


def test_demo_creates_an_image_from_a_file_watches_it_go_active_edits_and_deletes_it(
    page, live_stack, credentials, tmp_path
):
    name = f"cirros-{uuid.uuid4().hex[:6]}"
    disk = make_qcow2(tmp_path / "cirros.qcow2", size="3G")
    sign_in(page, "demo", credentials["demo"])
    form = open_create(page)
    form.get_by_label("Image Name").fill(name)
    form.get_by_label("File", exact=True).set_input_files(disk)
    # The format comes from the content, and the qcow2 header's virtual size fills Minimum Disk.
    expect(form.locator("[data-detected]")).to_contain_text("QCOW2")
    expect(form.get_by_label("Format")).to_have_value("qcow2")
    expect(form.get_by_label("Minimum Disk (GB)")).to_have_value("3")
    form.get_by_label("Architecture").fill("x86_64")
    page.evaluate("window.__stillTheSamePage = true")
    page.locator("[data-create-submit]").click()

    row = page.locator(f'tr[data-image="{name}"]')
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "active", timeout=SLOW)
    expect(row.get_by_test_id("status")).to_have_text("Active")
    assert page.evaluate("window.__stillTheSamePage") is True  # no reload happened
    expect(page.get_by_test_id("upload-tray")).to_contain_text("Active")
    image_id = row.get_attribute("data-image-id")
    state = image_state(live_stack, image_id)
    assert state["status"] == "active" and state["locations"] == 1 and not state["staged"]
    screenshot(page, "images.png")

    # Edit it.
    row.get_by_role("link", name="Edit Image").click()
    page.get_by_label("Description").fill("A tiny test image")
    page.get_by_label("Minimum RAM (MB)").fill("64")
    page.get_by_role("button", name="Update Image").click()
    expect(page.get_by_role("alert")).to_contain_text(f'Image "{name}" was updated.')
    expect(row).to_contain_text("A tiny test image")

    # Add a property.
    row.get_by_role("button", name=f"More actions for {name}").click()
    row.get_by_role("link", name="Update Metadata").click()
    page.get_by_label("New key 1").fill("os_distro")
    page.get_by_label("New value 1").fill("cirros")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Metadata of image")
    page.goto(f"/images/{image_id}/")
    props = page.get_by_test_id("properties")
    expect(props).to_contain_text("os_distro")
    expect(props).to_contain_text("architecture")
    expect(page.get_by_test_id("os-hash")).not_to_have_text("—")

    # Delete it through the confirm dialog.
    page.goto("/images/")
    page.get_by_label(f"Select {name}").check()
    page.get_by_role("button", name="Delete Images").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("permanent")
    expect(dialog.get_by_test_id("delete-list")).to_contain_text(name)
    dialog.get_by_role("button", name="Delete Image").click()
    # A worker deletes it; the progress page shows the result.
    expect(page.get_by_test_id("bulk-job")).to_have_attribute("data-job-status", "done", timeout=SLOW)
    expect(page.locator(f'tr[data-item="{name}"]')).to_have_attribute("data-result", "done")
    page.get_by_role("link", name="Back to the list").click()
    expect(page.locator(f'tr[data-image="{name}"]')).to_have_count(0)
    assert image_state(live_stack, image_id)["status"] == "deleted"


def test_an_aborted_upload_leaves_a_queued_image_that_is_retried_into_the_same_id(
    page, live_stack, credentials, tmp_path
):
    name = f"big-{uuid.uuid4().hex[:6]}"
    disk = make_qcow2(tmp_path / "big.qcow2", size="64M", random_mib=24)
    sign_in(page, "demo", credentials["demo"])
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 1_000_000},
    )
    form = open_create(page)
    form.get_by_label("Image Name").fill(name)
    form.get_by_label("File", exact=True).set_input_files(disk)
    expect(form.get_by_label("Format")).to_have_value("qcow2")
    page.locator("[data-create-submit]").click()

    item = page.get_by_test_id("upload-tray").locator("[data-upload-item]").first
    expect(item.locator("[data-upload-stats]")).to_contain_text("left")
    row = page.locator(f'tr[data-image="{name}"]')
    expect(row).to_have_attribute("data-status", "uploading")
    screenshot(page, "image-upload.png")
    image_id = row.get_attribute("data-image-id")
    item.get_by_role("button", name="Abort").click()
    expect(item).to_contain_text("Aborted")

    # The upload was terminated on the server (or, had its last byte just arrived, the import that
    # it started was aborted): the image is queued again, says why, and kept no bytes.
    expect(row).to_have_attribute("data-status", "queued", timeout=30_000)
    expect(row.get_by_test_id("reason")).to_contain_text(re.compile(r"(Upload|Processing) aborted"))
    state = image_state(live_stack, image_id)
    assert state["status"] == "queued" and not state["staged"] and state["locations"] == 0

    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    with page.expect_file_chooser() as chooser:
        row.get_by_role("button", name="Retry upload").click()
    chooser.value.set_files(disk)
    expect(row).to_have_attribute("data-status", "active", timeout=SLOW)
    assert image_state(live_stack, image_id)["status"] == "active"
    assert page.locator(f'tr[data-image="{name}"]').count() == 1


# Holds every read of a chosen file's bytes until window.__releaseFileReads(), then reads as before.
HOLD_FILE_READS = """() => {
  const read = Blob.prototype.arrayBuffer;
  const held = new Promise((resolve) => { window.__releaseFileReads = resolve; });
  Blob.prototype.arrayBuffer = async function () {
    await held;
    return read.call(this);
  };
  held.then(() => { Blob.prototype.arrayBuffer = read; });
}"""


def test_bad_input_is_refused_before_anything_is_stored(page, live_stack, credentials, tmp_path):
    sign_in(page, "demo", credentials["demo"])
    before = live_stack.shell("from images.models import Image; print(Image.objects.count())")
    form = open_create(page)
    form.get_by_label("Image Name").fill("nothing-chosen")
    page.locator("[data-create-submit]").click()
    expect(form.locator("[data-field=image_file]")).to_contain_text(
        "An image file or an external location must be specified."
    )
    form.get_by_label("Image Location").check()
    page.locator("[data-create-submit]").click()
    expect(form.locator("[data-field=location]")).to_contain_text("must be specified")

    # A qcow2 file declared as raw: warned before upload; nothing is created unless confirmed.
    # The format is chosen while the file is still being read (the read is held here): the
    # user's choice stays, and the warning comes when the read ends.
    form.get_by_label("Image File").check()
    page.evaluate(HOLD_FILE_READS)
    form.get_by_label("File", exact=True).set_input_files(make_qcow2(tmp_path / "x.qcow2"))
    form.get_by_label("Format").select_option("raw")
    page.evaluate("() => window.__releaseFileReads()")
    expect(form.locator("[data-mismatch]")).to_contain_text("content is QCOW2")
    expect(form.get_by_label("Format")).to_have_value("raw")
    page.locator("[data-create-submit]").click()
    expect(page.locator("[data-create-submit]")).to_have_text("Create anyway")

    # A QED image is not accepted at all.
    qed = tmp_path / "x.qed"
    subprocess.run(
        [require("qemu-img"), "create", "-f", "qed", str(qed), "16M"], check=True, capture_output=True
    )
    form.get_by_label("File", exact=True).set_input_files(qed)
    expect(form.locator("[data-detected]")).to_contain_text("does not accept")
    page.locator("[data-create-submit]").click()
    expect(form.locator("[data-field=image_file]")).to_contain_text("QED images are not accepted")
    after = live_stack.shell("from images.models import Image; print(Image.objects.count())")
    assert after == before


def test_a_protected_image_cannot_be_deleted(page, live_stack, credentials):
    names = [f"locked-{uuid.uuid4().hex[:6]}", f"free-{uuid.uuid4().hex[:6]}"]
    live_stack.shell(
        "from dashboard.models import Project; from images.models import Image; "
        "demo = Project.objects.get(name='demo'); "
        f"Image.objects.create(owner=demo.id, name='{names[0]}', protected=True, disk_format='raw', "
        "container_format='bare'); "
        f"Image.objects.create(owner=demo.id, name='{names[1]}', disk_format='raw', container_format='bare')"
    )
    sign_in(page, "demo", credentials["demo"])
    page.goto("/images/?name=locked-")
    expect(page.locator(f'tr[data-image="{names[0]}"]')).to_contain_text("Yes")
    page.goto(f"/images/?name={names[0][:-2]}")
    page.get_by_label(f"Select {names[0]}").check()
    page.get_by_role("button", name="Delete Images").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("refusal")).to_contain_text("Protected")
    expect(dialog.get_by_role("button", name="Delete Image")).to_be_disabled()

    # Together with a deletable one: that one goes, the protected one stays with the reason.
    page.goto("/images/")
    page.get_by_label(f"Select {names[0]}").check()
    page.get_by_label(f"Select {names[1]}").check()
    page.get_by_role("button", name="Delete Images").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete Images").click()
    expect(page.get_by_test_id("bulk-job")).to_have_attribute("data-job-status", "done", timeout=SLOW)
    expect(page.locator(f'tr[data-item="{names[1]}"]')).to_have_attribute("data-result", "done")
    refused = page.locator(f'tr[data-item="{names[0]}"]')
    expect(refused).to_have_attribute("data-result", "refused")
    expect(refused).to_contain_text("Image is protected and cannot be deleted")
    page.get_by_role("link", name="Back to the list").click()
    expect(page.locator(f'tr[data-image="{names[0]}"]')).to_have_count(1)


def test_a_reader_sees_no_create_or_delete_buttons(page, live_stack):
    username, password = f"reader-{uuid.uuid4().hex[:6]}", "reader-pass-4711"
    live_stack.shell(
        "from dashboard.models import Project, Role, RoleAssignment, User; "
        "demo = Project.objects.get(name='demo'); "
        f"u = User(username='{username}', default_project=demo); u.set_password('{password}'); u.save(); "
        "RoleAssignment.objects.create(user=u, project=demo, role=Role.objects.get(name='reader'))"
    )
    sign_in(page, username, password)
    page.goto("/images/")
    expect(page.get_by_test_id("images")).to_be_visible()
    expect(page.get_by_role("button", name="Create Image")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete Images")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit Image")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/images/$"))
