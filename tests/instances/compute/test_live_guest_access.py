"""Logging in to a real guest as a cloud user does: a key pair made through the API, the instance
launched with it and with user data, a port forward to its port 22, and SSH through 127.0.0.1 with
the private key the API returned.

The guest is the Linux test guest (tests/support/linuxguest.py) with its SSH server, uploaded as an
AKI/ARI/AMI triple whose command line asks it to act as a cloud image (``stratus.cloudinit=1``): it
takes its hostname and authorized key from meta_data.json and runs the user data, read from its
config drive or from the metadata service. The compute host runs in this process with the real QEMU
driver (TCG) and real bridges in a throwaway network namespace (the ``bridged`` fixture).
"""

from __future__ import annotations

import base64

import pytest
from django.conf import settings

from flavors import services as flavor_services
from instances.compute.manager import ComputeManager
from instances.compute.metadata import MetadataServer
from instances.models import Instance
from instances.virt.qemu import QemuDriver
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import Deliver, upload_guest_triple
from tests.support.guestssh import login, run
from tests.support.linuxguest import BASE_CMDLINE, LinuxGuest, console_lines, guest_cmdline
from tests.support.processes import require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live
MARKER = "ACCESS"
CMDLINE = f"{BASE_CMDLINE} {guest_cmdline(marker=MARKER, cloudinit=True)}"
USER_DATA = "#!/bin/sh\necho made-by-user-data > /root/proof\n"


@pytest.fixture
def qemu_bridged(bridged: ComputeManager, tmp_path, settings) -> ComputeManager:
    """The bridged compute host, its guests real QEMU processes."""
    require("qemu-system-x86_64")
    require("qemu-img")
    settings.VIRT_DRIVER = "qemu"
    bridged.driver = QemuDriver(tmp_path / "guests", accel="tcg")
    return bridged


def launch_with_key(
    world, manager: ComputeManager, built: LinuxGuest, capture, *, name: str, config_drive: bool
):
    """The member's key pair and instance (the test guest with user data), and a forward to its
    port 22: (instance, host port, private key, public key)."""
    owner = world["home"].pk
    root = upload_guest_triple(owner, built, CMDLINE)
    flavor = flavor_services.create_flavor(name="t.access", vcpus=1, ram=256, disk=1)

    made = world["member"].post("/os-keypairs", {"keypair": {"name": "access"}}, "2.1")
    assert made.status_code == 200, made.content
    keypair = made.json()["keypair"]

    body = create_body(
        root,
        flavor,
        name=name,
        key_name="access",
        user_data=base64.b64encode(USER_DATA.encode()).decode(),
        config_drive=config_drive,
    )
    with capture() as callbacks:
        response = world["member"].post("/servers", body, "2.96")
    assert response.status_code == 202, response.content
    Deliver(manager)(callbacks)
    instance = Instance.objects.get(pk=response.json()["server"]["id"])
    assert instance.vm_state == "active", instance.fault
    with capture() as callbacks:
        forward = world["member"].post(
            f"/servers/{instance.pk}/os-port-forwards", {"port_forward": {"guest_port": 22}}
        )
    Deliver(manager)(callbacks)
    assert forward.status_code == 201, forward.content
    port = forward.json()["port_forward"]["host_port"]
    return instance, port, keypair["private_key"], keypair["public_key"]


def console(manager: ComputeManager, instance: Instance) -> list[str]:
    return console_lines(manager.driver.console_output(str(instance.pk), None), MARKER)


def ssh_ready(manager: ComputeManager, instance: Instance) -> list[str] | None:
    """The guest's console lines once its SSH server listens; fails at once on the guest's error."""
    lines = console(manager, instance)
    if any(line.startswith("error") for line in lines):
        raise AssertionError(manager.driver.console_output(str(instance.pk), None))
    return lines if "ssh ready" in lines else None


def check_login(port: int, private_key: str, public_key: str, name: str) -> None:
    client = login(port, private_key)
    try:
        assert run(client, "hostname") == name
        assert run(client, "cat /root/proof") == "made-by-user-data"
        assert run(client, "cat /root/.ssh/authorized_keys") == public_key
    finally:
        client.close()


def test_a_member_logs_in_with_the_key_pair_and_user_data_from_the_config_drive(
    ssh_guest, world, qemu_bridged, stores_dir, django_capture_on_commit_callbacks
):
    instance, port, private_key, public_key = launch_with_key(
        world,
        qemu_bridged,
        ssh_guest,
        django_capture_on_commit_callbacks,
        name="access-drive",
        config_drive=True,
    )
    try:
        lines = wait_for(
            lambda: ssh_ready(qemu_bridged, instance), timeout=120, interval=0.5, what="'ssh ready'"
        )
        assert "cloudinit source=configdrive" in lines
        assert "userdata exit=0" in lines
        check_login(port, private_key, public_key, "access-drive")
    finally:
        qemu_bridged.destroy_local(str(instance.pk))


def test_a_member_logs_in_with_the_key_pair_and_user_data_from_the_metadata_service(
    ssh_guest, world, qemu_bridged, stores_dir, django_capture_on_commit_callbacks
):
    # Answered in this thread, so that it sees this test's rows; listening before the guest boots.
    server = MetadataServer(qemu_bridged.host_name, settings.METADATA_PORT, threaded=False)
    server.httpd.timeout = 0.2
    instance = None
    try:
        instance, port, private_key, public_key = launch_with_key(
            world,
            qemu_bridged,
            ssh_guest,
            django_capture_on_commit_callbacks,
            name="access-meta",
            config_drive=False,
        )
        assert not qemu_bridged.driver.saved_spec(str(instance.pk)).config_drive

        def answered() -> list[str] | None:
            server.httpd.handle_request()  # one request of the guest, or none within the timeout
            return ssh_ready(qemu_bridged, instance)

        lines = wait_for(answered, timeout=120, interval=0.01, what="'ssh ready'")
        assert "cloudinit source=metadata" in lines
        assert "userdata exit=0" in lines
        check_login(port, private_key, public_key, "access-meta")
    finally:
        server.httpd.server_close()
        if instance is not None:
            qemu_bridged.destroy_local(str(instance.pk))
