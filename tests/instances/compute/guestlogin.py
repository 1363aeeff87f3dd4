"""Logging in to the Linux test guest launched through the API, as a cloud user does: a key pair made
through the API, the instance launched with it and with user data, a port forward to its port 22,
and SSH through 127.0.0.1 with the private key the API returned (paramiko).

The guest's command line (``CMDLINE``) asks it to act as a cloud image (``stratus.cloudinit=1``): it
takes its hostname and authorized key from meta_data.json and runs the user data, read from its
config drive or from the metadata service. Shared by the tests that boot it as an AKI/ARI/AMI
triple (test_live_guest_access.py) and as one bootable disk (test_guest_disk.py); their fixtures
are ``ssh_guest`` (tests/conftest.py) and ``qemu_bridged`` (this package's conftest.py).
"""

from __future__ import annotations

import base64

from flavors import services as flavor_services
from instances.compute.manager import ComputeManager
from instances.models import Instance
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import Deliver
from tests.support.guestssh import login, run
from tests.support.linuxguest import BASE_CMDLINE, console_lines, guest_cmdline

MARKER = "ACCESS"
CMDLINE = f"{BASE_CMDLINE} {guest_cmdline(marker=MARKER, cloudinit=True)}"
USER_DATA = "#!/bin/sh\necho made-by-user-data > /root/proof\n"


def launch_with_key(world, manager: ComputeManager, image, capture, *, name: str, config_drive: bool):
    """The member's key pair and instance of ``image`` (the test guest, booting with ``CMDLINE``)
    with user data, and a forward to its port 22: (instance, host port, private key, public key)."""
    flavor = flavor_services.create_flavor(name="t.access", vcpus=1, ram=256, disk=1)

    made = world["member"].post("/os-keypairs", {"keypair": {"name": "access"}}, "2.1")
    assert made.status_code == 200, made.content
    keypair = made.json()["keypair"]

    body = create_body(
        image,
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


def check_login(port: int, private_key: str, public_key: str, name: str) -> str:
    """Logs in, finds the hostname, the user data's effect and the key; returns /proc/cmdline."""
    client = login(port, private_key)
    try:
        assert run(client, "hostname") == name
        assert run(client, "cat /root/proof") == "made-by-user-data"
        assert run(client, "cat /root/.ssh/authorized_keys") == public_key
        return run(client, "cat /proc/cmdline")
    finally:
        client.close()
