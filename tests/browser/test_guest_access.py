"""Into a real guest from the dashboard, in headless Chromium against the live stack: demo creates a
key pair in the Key Pairs panel (its private key downloads once), launches the Linux test guest with
it and a ``#!/bin/sh`` customization script in the bridged compute agent's availability zone, adds a
port forward for SSH on the instance's detail page, and then logs in with the downloaded key at the
``ssh -p PORT root@HOST`` line the page shows, where the script's file is waiting."""

from __future__ import annotations

import re
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect

from tests.browser.test_instances import row_of
from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token
from tests.support.guestssh import login, run
from tests.support.screenshots import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.live]

USER_DATA = "#!/bin/sh\necho made-by-the-dashboard-script > /root/proof\n"
SSH_LINE = re.compile(r"^ssh -p (\d+) root@(\S+)$")


def create_key_pair(page, name: str) -> str:
    """Create Key Pair in the panel: the private key downloads as NAME.pem; its text."""
    page.locator("[data-section=Project]").get_by_role("link", name="Key Pairs").click()
    page.get_by_role("link", name="Create Key Pair").click()
    page.get_by_label("Key Pair Name").fill(name)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Create Key Pair").click()
    download = download_info.value
    assert download.suggested_filename == f"{name}.pem"
    with open(download.path(), "rb") as pem:
        return pem.read().decode()


def test_demo_logs_in_to_an_instance_with_a_key_pair_made_in_the_panel_at_the_ssh_line_of_its_page(
    page, live_stack, credentials, bridged_agent, guest_image, guest_flavor
):
    suffix = uuid.uuid4().hex[:6]
    key_name, name = f"kp-{suffix}", f"guest-{suffix}"
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    image_name = demo.image(guest_image)["name"]
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    try:
        sign_in(page, "demo", credentials["demo"])
        pem = create_key_pair(page, key_name)
        private = serialization.load_ssh_private_key(pem.encode(), password=None)
        public = private.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )

        # Once only: the panel lists the pair with nothing to download, and creating it again is refused.
        page.goto("/keypairs/")
        row = page.locator(f'tr[data-keypair="{key_name}"]')
        expect(row).to_be_visible()
        expect(row.get_by_role("link")).to_have_text(["Delete"])
        page.get_by_role("link", name="Create Key Pair").click()
        page.get_by_label("Key Pair Name").fill(key_name)
        page.get_by_role("button", name="Create Key Pair").click()
        expect(page.get_by_text("already exists")).to_be_visible()
        assert len(downloads) == 1

        # Launch Instance: the guest image, its flavor, the bridged agent's zone, the key pair and a script.
        page.locator("[data-section=Project]").get_by_role("link", name="Instances").click()
        page.get_by_role("link", name="Launch Instance").click()
        page.get_by_label("Instance Name").fill(name)
        zone = page.get_by_label("Availability Zone")
        expect(zone.get_by_role("option", name=bridged_agent.zone, exact=True)).to_have_count(1)
        zone.select_option(bridged_agent.zone)
        page.get_by_label(f"Boot from {image_name}").check()
        expect(page.get_by_label(f"Boot from {image_name}")).to_be_checked()
        page.get_by_label(f"Use {guest_flavor}", exact=True).check()
        expect(page.get_by_test_id("will-use")).to_contain_text(f"1 × {guest_flavor} from {image_name}")
        page.get_by_label("Key Pair", exact=True).select_option(key_name)
        page.get_by_label("Customization Script").fill(USER_DATA)
        expect(zone).to_have_value(bridged_agent.zone)
        page.get_by_role("button", name="Launch Instance").click()
        expect(page.get_by_role("alert").first).to_contain_text(f"Launching {name}")
        expect(row_of(page, name)).to_have_attribute("data-status", "ACTIVE", timeout=180_000)

        # The detail page: the key pair, then a forward of port 22 and its SSH command line.
        row_of(page, name).get_by_role("link", name=name).click()
        expect(page.get_by_test_id("detail-status")).to_have_text("ACTIVE")
        expect(page.get_by_test_id("key-name")).to_have_text(key_name)
        expect(page.get_by_test_id("availability-zone")).to_have_text(bridged_agent.zone)
        forwards = page.get_by_test_id("forwards")
        expect(forwards).to_contain_text("none")
        page.get_by_label("Forward port").fill("22")
        page.get_by_test_id("forward-add").get_by_role("button", name="Add").click()
        expect(page.get_by_role("alert").first).to_contain_text(f"Port 22 of {name} is reachable at ssh -p")
        line = forwards.locator("[data-forward] code")
        expect(line).to_have_text(SSH_LINE)
        expect(line).to_have_attribute("title", "Port 22 of the instance")
        screenshot(page, "instance-ssh.png", full_page=True)
        port, host = SSH_LINE.match(line.inner_text()).groups()

        # The line is true: the downloaded key logs in there, to the guest the script ran in.
        client = login(int(port), pem, host=host, netns=bridged_agent.netns, timeout=180)
        try:
            assert run(client, "hostname") == name
            assert run(client, "cat /root/proof") == "made-by-the-dashboard-script"
            assert run(client, "cat /root/.ssh/authorized_keys").split()[:2] == public.decode().split()[:2]
        finally:
            client.close()
    finally:
        listed = demo.get(f"/servers?name={name}").json()["servers"]
        servers = [server for server in listed if server["name"] == name]
        for server in servers:
            demo.delete(f"/servers/{server['id']}")
        for server in servers:
            demo.wait_deleted(server["id"], timeout=120)
        demo.delete(f"/os-keypairs/{key_name}")
