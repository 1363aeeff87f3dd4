"""Create Image from an Image Location with Copy Data, against a stack whose operator allow-list
lets it fetch from a web server the test runs on loopback."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_images import SLOW, image_state, make_qcow2
from tests.browser.test_login import sign_in
from tests.images.live_support import RemoteFiles
from tests.plugin import TEST_ROOT
from tests.support.processes import DEMO_PASSWORD, LiveStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    server = RemoteFiles(tmp_path_factory.mktemp("remote"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def url_stack(stack_database):
    stack = LiveStack(
        TEST_ROOT / f"url-import-{uuid.uuid4().hex[:8]}",
        extra_env={
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
def url_page(browser, url_stack):
    context = browser.new_context(base_url=url_stack.url, viewport={"width": 1360, "height": 860})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_an_image_is_copied_from_a_url_and_becomes_active(url_page, url_stack, remote):
    page = url_page
    name = f"from-url-{uuid.uuid4().hex[:6]}"
    make_qcow2(remote.root / "disk.qcow2", size="1G")
    sign_in(page, "demo", DEMO_PASSWORD)
    page.goto("/images/")
    page.get_by_role("button", name="Create Image").first.click()
    form = page.locator("#create-image-form")
    form.get_by_label("Image Name").fill(name)
    form.get_by_label("Image Location").check()
    form.get_by_label("Location", exact=True).fill(remote.url("disk.qcow2"))
    # Only copying is offered while the Image API has no locations endpoint.
    expect(form.get_by_label("Copy Data")).to_be_checked()
    form.get_by_label("Format").select_option("qcow2")
    page.locator("[data-create-submit]").click()

    row = page.locator(f'tr[data-image="{name}"]')
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "active", timeout=SLOW)
    assert any(path.endswith("/disk.qcow2") for path in remote.requests)
    state = image_state(url_stack, row.get_attribute("data-image-id"))
    assert state["status"] == "active" and state["locations"] == 1


def test_a_url_outside_the_allow_list_is_a_field_error(url_page):
    page = url_page
    sign_in(page, "demo", DEMO_PASSWORD)
    page.goto("/images/")
    page.get_by_role("button", name="Create Image").first.click()
    form = page.locator("#create-image-form")
    form.get_by_label("Image Name").fill("metadata-service")
    form.get_by_label("Image Location").check()
    form.get_by_label("Location", exact=True).fill("http://169.254.169.254/latest/")
    form.get_by_label("Format").select_option("raw")
    page.locator("[data-create-submit]").click()
    expect(form.locator("[data-field=location]")).to_contain_text("will not fetch from that URL")
