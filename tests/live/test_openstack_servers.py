"""python-openstackclient and openstacksdk, unmodified, driving servers on a real compute agent."""

from __future__ import annotations

import pytest

from tests.instances.live import qemu_pids
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


def test_the_server_commands_of_the_openstack_cli(openstack_demo, compute_host, marker_image):
    cli = openstack_demo
    created = cli.json(
        "server",
        "create",
        "--image",
        marker_image["id"],
        "--flavor",
        "m1.tiny",
        "--nic",
        "none",
        "--wait",
        "vm1",
    )
    server_id = created["id"]
    assert created["status"] == "ACTIVE"
    listed = cli.json("server", "list")
    assert [(s["Name"], s["Status"]) for s in listed if s["ID"] == server_id] == [("vm1", "ACTIVE")]
    shown = cli.json("server", "show", "vm1")
    assert "m1.tiny" in (shown["flavor"].get("original_name"), shown["flavor"].get("name"))
    assert "10.100." in str(shown["addresses"])

    def status() -> str:
        return cli.json("server", "show", server_id)["status"]

    for command, expected in (
        ("stop", "SHUTOFF"),
        ("start", "ACTIVE"),
        ("reboot", "ACTIVE"),
        ("pause", "PAUSED"),
        ("unpause", "ACTIVE"),
    ):
        cli.run("server", command, "vm1")
        wait_for(
            lambda expected=expected: status() == expected,
            timeout=90,
            interval=0.5,
            what=f"server {command} to reach {expected}",
        )

    image = cli.json("server", "image", "create", "--name", "vm1-snap", "--wait", "vm1")
    assert cli.json("image", "show", image["id"])["status"] == "active"
    cli.run("server", "delete", "--wait", "vm1")
    assert server_id not in [s["ID"] for s in cli.json("server", "list")]
    assert qemu_pids(server_id) == []


def test_openstacksdk_create_server_with_wait_keeps_the_server(
    live_stack, credentials, compute_host, marker_image
):
    import openstack

    conn = openstack.connect(
        auth_url=f"{live_stack.url}/identity/v3",
        username="demo",
        password=credentials["demo"],
        project_name="demo",
        user_domain_name="Default",
        project_domain_name="Default",
        region_name="RegionOne",
    )
    server = conn.create_server(
        "sdk-vm", image=marker_image["id"], flavor="t.marker", wait=True, timeout=120, auto_ip=False
    )
    try:
        assert server.status == "ACTIVE"
        assert server.addresses["private"][0]["addr"].startswith("10.100.")
        assert conn.compute.get_server(server.id).status == "ACTIVE"  # not deleted behind our back
    finally:
        conn.delete_server(server.id, wait=True, timeout=60)
    assert conn.compute.find_server(server.id) is None
