"""A real Linux guest on the bridge the agent made for its instance: it takes the instance's address
by DHCP, asks 169.254.169.254 and gets that instance's metadata, and its web server is reachable
through the instance's port forward on 127.0.0.1.

The agent runs in this process (fake driver for the instance's own lifecycle, real host networking
in a throwaway network namespace); the guest is the Linux test guest under QEMU (TCG), booted on
the instance's tap with the instance's MAC.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
import uuid

import pytest
from django.conf import settings

from instances.compute.metadata import MetadataServer
from instances.virt.base import GuestSpec, NetworkSpec
from instances.virt.hostnet import tap_name
from instances.virt.qemu import QemuDriver
from tests.instances.compute.conftest import launch
from tests.instances.conftest import Deliver
from tests.plugin import TEST_ROOT
from tests.support.linuxguest import BASE_CMDLINE, build_guest, console_fields, console_lines, guest_cmdline
from tests.support.processes import require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live
MARKER = "WEB"


def test_a_guest_gets_its_address_its_own_metadata_and_a_public_port(
    world, bridged, image, tiny, django_capture_on_commit_callbacks, tmp_path
):
    require("qemu-system-x86_64")
    capture = django_capture_on_commit_callbacks
    web = launch(world, bridged, image, tiny, capture, "member", "web")
    with capture() as callbacks:
        made = world["member"].post(
            f"/servers/{web.pk}/os-port-forwards", {"port_forward": {"guest_port": 80}}
        )
    Deliver(bridged)(callbacks)
    port = made.json()["port_forward"]["host_port"]

    built = build_guest(TEST_ROOT / "linux-guest")
    token = secrets.token_hex(4)
    options = guest_cmdline(marker=MARKER, hostname="web", token=token, metadata=True)
    spec = GuestSpec(
        uuid=str(uuid.uuid4()),
        name="web",
        vcpus=1,
        memory_mb=256,
        network=NetworkSpec(
            web.network.cidr, web.address, web.network.gateway, web.mac_address, tap=tap_name(str(web.pk))
        ),  # fmt: skip
        kernel=str(built.kernel),
        ramdisk=str(built.initrd),
        cmdline=f"{BASE_CMDLINE} {options}",
    )
    driver = QemuDriver(tmp_path / "qemu", accel="tcg")
    server = MetadataServer("bridged", settings.METADATA_PORT, threaded=False)
    server.httpd.timeout = 90
    try:
        driver.spawn(spec)
        server.httpd.handle_request()  # the guest's one request, answered in this thread

        def console() -> list[str]:
            return console_lines(driver.console_output(spec.uuid, None), MARKER)

        lease = wait_for(
            lambda: next((x for x in console() if x.startswith("ip=")), None), timeout=60, what="lease"
        )
        assert console_fields(lease)["ip"] == f"{web.address}/24"
        lines = wait_for(
            lambda: console() if "metadata-end" in console() else None, timeout=60, what="metadata"
        )
        document = json.loads(
            driver.console_output(spec.uuid, None).split("metadata-begin")[1].split(MARKER)[0]
        )
        assert (document["uuid"], document["name"]) == (str(web.pk), "web")
        assert "metadata-unavailable" not in lines
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert f"token={token}" in page.read().decode()
    finally:
        server.httpd.server_close()
        driver.destroy(spec.uuid)
