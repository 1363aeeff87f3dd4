"""The instance console in headless Chromium against a running Linux guest (the Linux test guest
booted from AKI/ARI/AMI images under TCG, with a shell on its screen: ``stratus.vtshell=1``): the
Console tab connects through the console proxy, the canvas shows the guest's screen, keys typed
into it reach the guest (its `typed` command prints on the serial console), the Log tab follows
the serial log live and downloads it whole, the console opens in a tab of its own, and stopping
the instance closes the console with the reason. At a 1366 px wide window."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token
from tests.plugin import TEST_ROOT
from tests.support.linuxguest import BASE_CMDLINE, build_guest, console_lines, guest_cmdline
from tests.support.screenshots import screenshot
from tests.support.wait import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]

MARKER = "SCREEN"
CMDLINE = f"{BASE_CMDLINE} {guest_cmdline(marker=MARKER, dhcp=False, http_port=0, vtshell=True)}"
LINUX_FLAVOR = {"name": "t.linux", "ram": 256, "vcpus": 1, "disk": 1}
VIEWPORT = {"width": 1366, "height": 768}

# How many colours a sample of the console's canvas has: 1 for a blank screen.
CANVAS_COLOURS = """() => {
  const canvas = document.querySelector("[data-console-screen] canvas");
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const seen = new Set();
  for (let i = 0; i < data.length && seen.size < 8; i += 4 * 7) {
    seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  return seen.size;
}"""


@pytest.fixture(scope="module")
def clouds(live_stack, credentials):
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    return demo, admin


@pytest.fixture(scope="module")
def linux_server(clouds, compute_host, tmp_path_factory):
    """demo's running Linux guest with a shell on its screen."""
    demo, admin = clouds
    built = build_guest(TEST_ROOT / "linux-guest")
    kernel = demo.upload_image("vmlinuz", built.kernel, "aki", container_format="aki")
    ramdisk = demo.upload_image("initrd", built.initrd, "ari", container_format="ari")
    blank = tmp_path_factory.mktemp("screen") / "root.raw"
    blank.write_bytes(bytes(1024 * 1024))
    root = demo.upload_image(
        "linux-screen",
        blank,
        "ami",
        container_format="ami",
        kernel_id=kernel,
        ramdisk_id=ramdisk,
        os_command_line=CMDLINE,
    )
    server_id = demo.create(f"screen-{uuid.uuid4().hex[:6]}", root, admin.ensure_flavor(LINUX_FLAVOR))
    try:
        demo.wait_status(server_id, "ACTIVE")
        wait_for(
            lambda: "vtshell tty1" in console_lines(demo.console(server_id), MARKER),
            timeout=240,
            interval=1,
            what="the guest's shell on its screen",
        )
        yield server_id
    finally:
        demo.delete(f"/servers/{server_id}")
        demo.wait_deleted(server_id)


def canvas_shows_something(page) -> bool:
    return page.evaluate(CANVAS_COLOURS) > 1


def test_the_console_tab_shows_the_guests_screen_and_its_keys_reach_the_guest(
    browser, live_stack, credentials, clouds, linux_server
):
    demo, _ = clouds
    context = browser.new_context(base_url=live_stack.url, viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, "demo", credentials["demo"])

        # The Log tab, open before anything is typed: it must follow the log by itself.
        log_page = context.new_page()
        log_page.goto(f"/instances/{linux_server}/?tab=log")
        log = log_page.get_by_test_id("console")
        expect(log).to_contain_text(f"{MARKER} vtshell tty1", timeout=30_000)

        page.goto(f"/instances/{linux_server}/")
        page.get_by_role("link", name="Console", exact=True).click()
        state = page.get_by_test_id("console-state")
        expect(state).to_have_attribute("data-state", "connected", timeout=60_000)
        expect(state).to_have_text("Connected")
        expect(page.get_by_role("button", name="Send Ctrl-Alt-Del")).to_be_enabled()
        wait_for(lambda: canvas_shows_something(page), timeout=30, interval=0.2, what="the guest's screen")
        screen = page.get_by_test_id("console-screen")
        box = screen.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"]  # fits at 1366 px
        screenshot(page, "console.png")

        word = uuid.uuid4().hex[:10]
        page.locator("[data-console-screen] canvas").click()
        page.keyboard.type(f"typed keys {word}")
        page.keyboard.press("Enter")
        wait_for(
            lambda: f"typed keys {word}" in console_lines(demo.console(linux_server), MARKER),
            timeout=60,
            interval=0.5,
            what="the typed command's line on the serial console",
        )
        # The Log tab showed it without being reloaded.
        expect(log).to_contain_text(f"{MARKER} typed keys {word}", timeout=30_000)
        with log_page.expect_download() as download:
            log_page.get_by_role("link", name="Download log").click()
        assert download.value.suggested_filename.startswith("console-screen-")
        whole = Path(download.value.path()).read_text()
        assert f"{MARKER} boot token=" in whole and f"{MARKER} typed keys {word}" in whole

        # The same console on a page of its own.
        with page.expect_popup() as popup:
            page.get_by_role("link", name="Open in new tab").click()
        own = popup.value
        expect(own.get_by_test_id("console-state")).to_have_attribute(
            "data-state", "connected", timeout=60_000
        )
        wait_for(
            lambda: canvas_shows_something(own), timeout=30, interval=0.2, what="the screen in its own tab"
        )
        own.close()

        # Reconnect gets a new token and connects again.
        page.get_by_role("button", name="Reconnect").click()
        expect(state).to_have_attribute("data-state", "connected", timeout=60_000)

        # Stopping the instance closes the console, and the state line says why.
        demo.action(linux_server, {"os-stop": None})
        expect(state).to_have_attribute("data-state", "disconnected", timeout=60_000)
        expect(state).to_have_text(
            re.compile(r"Disconnected: The instance (is being stopped|is not running \(it is SHUTOFF\))\.")
        )
        demo.wait_status(linux_server, "SHUTOFF")
        page.get_by_role("button", name="Reconnect").click()
        expect(state).to_have_text(
            re.compile(r"Disconnected: Instance .* is not ready: The instance is not running")
        )
    finally:
        context.close()
