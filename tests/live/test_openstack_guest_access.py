"""Into a real guest with python-openstackclient, unmodified, as a cloud user does it:

    openstack keypair create k > k.pem
    openstack server create --key-name k --user-data script.sh --config-drive true ...

then SSH through the instance's port forward with that private key. The guest is the Linux test guest
(tests/support/linuxguest.py) uploaded with ``openstack image create`` as an AKI/ARI/AMI triple (the
``guest_image`` fixture) whose command line makes it act as a cloud image: it takes its hostname and
authorized key from meta_data.json and runs a ``#!`` user-data script, read from the config drive
or, without one, from the metadata service at 169.254.169.254. The compute agent is the live stack's
bridged one (real bridges, dnsmasq, nftables and QEMU under TCG, in a network namespace of its own).
"""

from __future__ import annotations

import uuid

import pytest

from tests.instances.live import Cloud, token
from tests.support.guestssh import login, run
from tests.support.linuxguest import console_lines

pytestmark = pytest.mark.live
USER_DATA = "#!/bin/sh\necho made-by-user-data > /root/proof\n"


def launch_and_log_in(
    cli, stack, credentials, agent, image, flavor, tmp_path, *config_drive: str
) -> list[str]:
    """Launch with a new key pair and the user-data script, forward port 22, log in with the key and
    check what the guest made of its metadata; returns the guest's console lines."""
    name = f"guest-{uuid.uuid4().hex[:6]}"
    pem = cli.run("keypair", "create", name).stdout  # openstack keypair create k > k.pem
    (tmp_path / "k.pem").write_text(pem)
    public_key = cli.run("keypair", "show", "--public-key", name).stdout.strip()
    script = tmp_path / "script.sh"
    script.write_text(USER_DATA)
    created = cli.json(
        "server", "create", "--image", image, "--flavor", flavor, "--nic", "auto",
        "--availability-zone", agent.zone, "--key-name", name, "--user-data", str(script),
        *config_drive, "--wait", name,
    )  # fmt: skip
    server_id = created["id"]
    try:
        assert created["status"] == "ACTIVE"
        assert created["key_name"] == name
        demo = Cloud(stack, token(stack, "demo", credentials["demo"], "demo"))
        forward = demo.post(f"/servers/{server_id}/os-port-forwards", {"port_forward": {"guest_port": 22}})
        assert forward.status_code == 201, forward.text
        port = forward.json()["port_forward"]["host_port"]
        # `server show` lists the forward's public address where Nova lists a floating IP.
        shown = cli.json("server", "show", server_id)["addresses"]
        assert [addrs[1:] for addrs in shown.values()] == [["127.0.0.1"]], shown

        client = login(port, (tmp_path / "k.pem").read_text(), netns=agent.netns, timeout=150)
        try:
            assert run(client, "hostname") == name
            assert run(client, "cat /root/proof") == "made-by-user-data"
            assert run(client, "cat /root/.ssh/authorized_keys").split()[:2] == public_key.split()[:2]
        finally:
            client.close()
        return console_lines(cli.run("console", "log", "show", server_id).stdout)
    finally:
        cli.run("server", "delete", "--wait", server_id)
        cli.run("keypair", "delete", name)


def test_cli_key_pair_user_data_and_config_drive_reach_the_guest(
    openstack_demo, live_stack, credentials, bridged_agent, guest_image, guest_flavor, tmp_path
):
    lines = launch_and_log_in(
        openstack_demo, live_stack, credentials, bridged_agent, guest_image, guest_flavor, tmp_path,
        "--config-drive", "true",
    )  # fmt: skip
    assert "cloudinit source=configdrive" in lines
    assert "userdata exit=0" in lines


def test_cli_key_pair_and_user_data_reach_the_guest_through_the_metadata_service(
    openstack_demo, live_stack, credentials, bridged_agent, guest_image, guest_flavor, tmp_path
):
    lines = launch_and_log_in(
        openstack_demo, live_stack, credentials, bridged_agent, guest_image, guest_flavor, tmp_path
    )
    assert "cloudinit source=metadata" in lines
    assert "userdata exit=0" in lines
