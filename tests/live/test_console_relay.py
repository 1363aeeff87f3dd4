"""Consoles across machines: the compute host's agent records another machine than the proxy's
(STRATUS_MACHINE_ID) and serves its VNC relay (STRATUS_CONSOLE_VNC_LISTEN), so the console proxy
reaches the guest's screen through the relay, which checks the console token again. A stack of its
own: its second machine must not take other tests' guests."""

from __future__ import annotations

import socket
import uuid

import pytest

from instances.compute import vnc_relay
from tests.instances.bootimage import build_boot_image
from tests.instances.live import Cloud, token
from tests.live.test_console_proxy import RFB_VERSION, console_token, open_console
from tests.plugin import TEST_ROOT
from tests.support.processes import ADMIN_PASSWORD, DEMO_PASSWORD, LiveStack, free_port
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def remote_host(tmp_path_factory, stack_database):
    stack = LiveStack(TEST_ROOT / f"console-relay-{uuid.uuid4().hex[:8]}")
    relay_port = free_port()
    try:
        stack.start()
        stack.start_compute_agent(
            "faraway",
            env={
                "STRATUS_QEMU_ACCEL": "tcg",
                "STRATUS_MACHINE_ID": "another-machine",
                "STRATUS_CONSOLE_VNC_LISTEN": f"127.0.0.1:{relay_port}",
            },
        )
        yield stack, relay_port
    finally:
        stack.stop()


def test_the_proxy_reaches_a_guest_on_another_machine_through_its_agents_relay(remote_host, tmp_path):
    stack, relay_port = remote_host
    demo = Cloud(stack, token(stack, "demo", DEMO_PASSWORD, "demo"))
    admin = Cloud(stack, token(stack, "admin", ADMIN_PASSWORD, "admin"))
    image = demo.upload_image("marker", build_boot_image(tmp_path / "m.raw", "STRATUS-MARKER relay"))
    server_id = demo.create("faraway-vm", image, admin.ensure_flavor())
    demo.wait_status(server_id, "ACTIVE")
    assert admin.server(server_id)["OS-EXT-SRV-ATTR:host"] == "faraway"

    sock = open_console(stack, server_id, console_token(demo, server_id))
    sock.close()
    wait_for(
        lambda: f"console of instance {server_id} opened" in stack.log("compute-faraway"),
        what="the relay to carry the console",
    )

    # The relay checks the token itself: a made-up one, or no handshake at all, opens nothing.
    with pytest.raises(vnc_relay.RelayRefused, match="The console token is not valid."):
        vnc_relay.connect(("127.0.0.1", relay_port), "made-up", server_id)
    relayed = vnc_relay.connect(("127.0.0.1", relay_port), console_token(demo, server_id), server_id)
    try:
        assert relayed.recv(len(RFB_VERSION)) == RFB_VERSION
    finally:
        relayed.close()
    with socket.create_connection(("127.0.0.1", relay_port), timeout=10) as raw:
        raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert raw.recv(200).startswith(b"NO ")
