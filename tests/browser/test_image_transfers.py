"""Resumable uploads, one progress bar through processing, and Abort, in headless Chromium against a
stack of its own (gunicorn, a Celery worker) whose imports are rate-limited, so that processing
lasts long enough to be watched and aborted: a 200 MiB upload cut at about 40 % resumes; a reload
mid-upload resumes once the same file is chosen again; the processing bar moves for an upload and
for a URL import; Abort during processing stops the worker and removes its files; and an upload
outlives a restart of the web server."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.test_images import make_qcow2
from tests.browser.test_login import sign_in
from tests.images.live_support import RemoteFiles
from tests.plugin import TEST_ROOT
from tests.support.processes import DEMO_PASSWORD, LiveStack
from tests.support.wait import wait_for
from tests.support.wire import Wire

pytestmark = pytest.mark.browser
MiB = 1 << 20
SLOW = 120_000  # ms
RATE = 24 * MiB  # the stack's import rate limit (bytes a second per pass)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    server = RemoteFiles(tmp_path_factory.mktemp("remote"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(stack_database):
    stack = LiveStack(
        TEST_ROOT / f"transfers-{uuid.uuid4().hex[:8]}",
        extra_env={
            "STRATUS_IMAGE_IMPORT_BYTES_PER_SECOND": str(RATE),
            "STRATUS_IMAGE_IMPORT_ALLOWED_NETWORKS": "127.0.0.0/8",
            "STRATUS_IMAGE_IMPORT_ALLOWED_PORTS": "",
        },
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def wire(stack):
    """The browser reaches the stack through a relay the test can slow down and cut."""
    relay = Wire(stack.port)
    yield relay
    relay.stop()


@pytest.fixture
def tpage(browser, wire):
    # Checked with axe like every context, without holding navigations: that would route the
    # uploads' hundreds of MiB through Playwright (tests/support/axe.py).
    context = browser.new_context(
        base_url=wire.url, viewport={"width": 1366, "height": 860}, hold_navigations=False
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, "demo", DEMO_PASSWORD)
    yield page
    context.close()


def disk_file(path: Path, size: int, *, random: bool = False) -> Path:
    """A raw disk: random throughout, or sparse with a random first and last MiB (so two files
    of the same size have different fingerprints), written in well under a second."""
    with path.open("wb") as fh:
        if random:
            for _ in range(size // MiB):
                fh.write(os.urandom(MiB))
        else:
            fh.write(os.urandom(MiB))
            fh.seek(size - MiB)
            fh.write(os.urandom(MiB))
    return path


def upload_record(stack, image_id: str) -> dict:
    code = (
        "import json; from images.models import ImageUpload; "
        f"u = ImageUpload.objects.filter(image_id='{image_id}').first(); "
        "print(json.dumps(u and {'offset': u.offset, 'length': u.length, 'received': u.received}))"
    )
    return json.loads(stack.shell(code))


def image_row(stack, image_id: str) -> dict:
    code = (
        "import json; from images.models import Image; "
        f"i = Image.objects.get(pk='{image_id}'); "
        "print(json.dumps({'status': i.status, 'reason': i.reason, 'reserved': i.reserved_bytes, "
        "'lease': i.lease_owner, 'locations': i.locations.count()}))"
    )
    return json.loads(stack.shell(code))


def leftovers(stack, image_id: str) -> list[str]:
    """Files of the image in staging (staged, extracted, converted) and in the store."""
    found = []
    for folder in (stack.data_dir / "staging", stack.data_dir / "images"):
        if folder.is_dir():
            found += [p.name for p in folder.iterdir() if p.name.startswith(image_id)]
    return found


def create_from_file(page, name: str, path: Path):
    page.goto("/images/")
    page.get_by_role("button", name="Create Image").first.click()
    form = page.locator("#create-image-form")
    form.get_by_label("Image Name").fill(name)
    form.get_by_label("File", exact=True).set_input_files(path)
    expect(form.get_by_label("Format")).to_have_value("raw")
    page.locator("[data-create-submit]").click()
    row = page.locator(f'tr[data-image="{name}"]')
    expect(row).to_have_count(1, timeout=15_000)
    return row, page.get_by_test_id("upload-tray").locator("[data-upload-item]").first


def wait_until_sent(page, share: float, size: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "([need]) => Number(document.querySelector('[data-upload-item]')?.dataset.sent || 0) >= need",
        arg=[int(share * size)],
        timeout=timeout,
    )


def test_a_200_mib_upload_cut_at_40_percent_resumes_and_sends_less_than_1_3_times_its_size(
    tpage, stack, wire, tmp_path
):
    page = tpage
    size = 200 * MiB
    disk = disk_file(tmp_path / "big.raw", size)
    patches: list[str] = []
    page.on("request", lambda r: r.method == "PATCH" and patches.append(r.url))
    wire.rate = 40 * MiB
    name = f"big-{uuid.uuid4().hex[:6]}"
    start = wire.sent
    row, item = create_from_file(page, name, disk)
    image_id = row.get_attribute("data-image-id")
    wait_for(lambda: wire.sent - start >= 0.4 * size, timeout=90, interval=0.01, what="40 % on the wire")

    # The connection drops in the middle of the PATCH; the client asks the server where it got
    # to (HEAD) and sends the rest from there.
    wire.cut()
    wire.rate = 0
    cut_at = wire.sent - start
    expect(row).to_have_attribute("data-status", "active", timeout=SLOW)
    record = upload_record(stack, image_id)
    assert record["offset"] == record["length"] == size
    assert size <= record["received"] < 1.3 * size, record
    assert len(patches) >= 2 and 0.35 * size < cut_at < 0.6 * size, (patches, cut_at)
    assert wire.sent - start < 1.3 * size  # everything the browser sent, pages and polls included
    state = image_row(stack, image_id)
    assert state["locations"] == 1 and state["reserved"] == 0
    assert leftovers(stack, image_id) == [image_id]  # the stored image, nothing in staging


def test_a_reload_mid_upload_resumes_when_the_same_file_is_chosen_again(tpage, stack, wire, tmp_path):
    page = tpage
    size = 48 * MiB
    disk = disk_file(tmp_path / "resume.raw", size)
    other = disk_file(tmp_path / "other.raw", size)
    wire.rate = 8 * MiB
    name = f"reload-{uuid.uuid4().hex[:6]}"
    row, _ = create_from_file(page, name, disk)
    image_id = row.get_attribute("data-image-id")
    wait_until_sent(page, 0.3, size)

    page.on("dialog", lambda d: d.accept())
    page.reload()  # leaving the page asks first; the test says yes
    wire.rate = 0
    resume = row.get_by_role("button", name="Resume upload")
    expect(resume).to_be_visible()
    expect(row.get_by_test_id("job-label")).to_contain_text("Sending")
    before = wait_for(lambda: (r := upload_record(stack, image_id)) and r["offset"] > 0 and r)

    # Another file of the same size is not the one the upload began with.
    with page.expect_event("dialog") as refusal:
        with page.expect_file_chooser() as chooser:
            resume.click()
        chooser.value.set_files(other)
    assert "not the file the upload began with" in refusal.value.message
    assert upload_record(stack, image_id)["offset"] == before["offset"]

    with page.expect_file_chooser() as chooser:
        resume.click()
    chooser.value.set_files(disk)
    expect(row).to_have_attribute("data-status", "active", timeout=SLOW)
    record = upload_record(stack, image_id)
    assert record["offset"] == size and record["received"] < 1.3 * size, record
    assert record["received"] - before["received"] <= size - before["offset"] + 4 * MiB


def bar_moves(page, image_id: str, phases: list[str]) -> tuple[int, int]:
    """Wait until the row's bar, in one of ``phases``, shows more than when first seen in them."""
    selector = f'#image-row-{image_id} [data-testid="job-progress"]'
    script = """([selector, phases, first]) => {
        const bar = document.querySelector(selector);
        if (!bar || !phases.includes(bar.dataset.phase)) return null;
        const now = Number(bar.dataset.percent);
        return first === null || now > first ? now : null;
    }"""
    first = page.wait_for_function(script, arg=[selector, phases, None], timeout=60_000).json_value()
    later = page.wait_for_function(script, arg=[selector, phases, first], timeout=30_000).json_value()
    return first, later


def test_the_processing_bar_moves_and_abort_stops_the_worker_and_removes_its_files(tpage, stack, tmp_path):
    page = tpage
    disk = disk_file(tmp_path / "work.raw", 96 * MiB, random=True)
    name = f"work-{uuid.uuid4().hex[:6]}"
    row, item = create_from_file(page, name, disk)
    image_id = row.get_attribute("data-image-id")
    expect(row.get_by_test_id("job-label")).to_contain_text("Processing:", timeout=60_000)
    first, later = bar_moves(page, image_id, ["hashing", "inspecting", "converting", "storing"])
    assert 50 <= first < later < 100
    expect(item.locator("[data-upload-bar]")).not_to_have_attribute("style", re.compile(r"width: 100%"))

    worker_log = stack.root / "worker.log"
    item.get_by_role("button", name="Abort").click()
    clicked = time.monotonic()
    expect(item).to_contain_text("Aborted: the server stopped processing")
    wait_for(
        lambda: f"Import of image {image_id} was cancelled" in worker_log.read_text(),
        timeout=5,
        what="the worker to stop",
    )
    stopped = time.monotonic() - clicked
    wait_for(lambda: leftovers(stack, image_id) == [], timeout=5, what="the worker's files to go")
    state = image_row(stack, image_id)
    assert state["status"] == "queued" and state["reserved"] == 0 and state["locations"] == 0
    assert state["reason"].startswith("Processing aborted")
    expect(row).to_have_attribute("data-status", "queued")
    expect(row.get_by_test_id("reason")).to_contain_text("Processing aborted")
    assert stopped < 3, stopped  # within a second on a quiet machine; the log is read by polling


def test_a_url_import_shows_downloading_then_processing_on_one_bar(tpage, stack, remote):
    page = tpage
    disk_file(remote.root / "remote.raw", 96 * MiB, random=True)
    name = f"url-{uuid.uuid4().hex[:6]}"
    page.goto("/images/")
    page.get_by_role("button", name="Create Image").first.click()
    form = page.locator("#create-image-form")
    form.get_by_label("Image Name").fill(name)
    form.get_by_label("Image Location").check()
    form.get_by_label("Location", exact=True).fill(remote.url("remote.raw"))
    form.get_by_label("Format").select_option("raw")
    page.locator("[data-create-submit]").click()
    row = page.locator(f'tr[data-image="{name}"]')
    expect(row.get_by_test_id("job-label")).to_contain_text("Downloading", timeout=30_000)
    first, later = bar_moves(page, row.get_attribute("data-image-id"), ["downloading"])
    assert 0 <= first < later <= 50
    expect(row.get_by_test_id("job-label")).to_contain_text("Processing:", timeout=30_000)
    expect(row).to_have_attribute("data-status", "active", timeout=SLOW)


def test_an_upload_survives_a_restart_of_the_web_server(stack, tmp_path):
    """The same protocol from a client of its own (no browser): the offset and the staged bytes
    outlive the web server, which the test stops and starts again half-way."""
    api = f"{stack.url}/image/v2/images"
    auth = {"X-Auth-Token": stack.token("demo", DEMO_PASSWORD, "demo"), "Tus-Resumable": "1.0.0"}
    image = requests.post(
        api,
        json={"name": "restart", "disk_format": "qcow2", "container_format": "bare"},
        headers=auth,
        timeout=30,
    ).json()
    data = make_qcow2(tmp_path / "restart.qcow2", random_mib=12).read_bytes()  # stored as it is
    created = requests.post(
        f"{api}/{image['id']}/uploads",
        headers={**auth, "Upload-Length": str(len(data)), "Upload-Metadata": "import Z2xhbmNlLWRpcmVjdA=="},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    octets = {**auth, "Content-Type": "application/offset+octet-stream"}
    first = requests.patch(url, data=data[: 5 * MiB], headers={**octets, "Upload-Offset": "0"}, timeout=60)
    assert first.status_code == 204 and first.headers["Upload-Offset"] == str(5 * MiB)

    stack.services["web"].stop()
    stack.start_web()

    probe = requests.head(url, headers=auth, timeout=30)
    assert probe.status_code == 200 and probe.headers["Upload-Offset"] == str(5 * MiB)
    behind = {**octets, "Upload-Offset": str(MiB)}
    stale = requests.patch(url, data=data[MiB : MiB + 4096], headers=behind, timeout=60)
    assert stale.status_code == 409
    rest = requests.patch(
        url, data=data[5 * MiB :], headers={**octets, "Upload-Offset": str(5 * MiB)}, timeout=60
    )
    assert rest.status_code == 204 and rest.headers["Upload-Offset"] == str(len(data))
    wait_for(
        lambda: requests.get(f"{api}/{image['id']}", headers=auth, timeout=30).json()["status"] == "active",
        timeout=120,
        interval=0.5,
        what="the import to finish",
    )
    shown = requests.get(f"{api}/{image['id']}", headers=auth, timeout=30).json()
    assert shown["size"] == len(data) and shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
