"""python-openstackclient, unmodified, shelving a real QEMU guest and bringing it back, and making
server groups: the host gives back what the guest held, and the unshelved guest boots from the
snapshot of its own disk (the marker image prints its marker from the boot sector)."""

from __future__ import annotations

import pytest

from tests.instances.live import Cloud, qemu_pids, token
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


def test_shelve_offloads_the_guest_and_unshelve_brings_it_back_with_its_disk(
    live_stack, credentials, openstack_demo, compute_host, marker_image
):
    cli = openstack_demo
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    created = cli.json(
        "server", "create", "--image", marker_image["id"], "--flavor", marker_image["flavor"],
        "--nic", "none", "--wait", "shelf",
    )  # fmt: skip
    server_id = created["id"]

    def console() -> str:
        return cli.run("console", "log", "show", server_id).stdout

    wait_for(lambda: marker_image["marker"] in console(), timeout=120, interval=0.5, what="the marker")
    before = admin.hypervisor(compute_host)["memory_mb_used"]
    assert qemu_pids(server_id)

    cli.run("server", "shelve", "--wait", server_id, timeout=300)
    shelved = wait_for(
        lambda: (s := cli.json("server", "show", server_id))["status"] == "SHELVED_OFFLOADED" and s,
        timeout=120,
        interval=0.5,
        what="the server to be offloaded",
    )
    assert shelved["OS-EXT-STS:task_state"] is None
    assert admin.hypervisor(compute_host)["memory_mb_used"] == before - 128
    assert qemu_pids(server_id) == []
    snapshots = [i for i in cli.json("image", "list") if i["Name"] == "shelf-shelved"]
    assert len(snapshots) == 1

    cli.run("server", "unshelve", "--wait", server_id, timeout=300)
    assert cli.json("server", "show", server_id)["status"] == "ACTIVE"
    assert admin.hypervisor(compute_host)["memory_mb_used"] == before
    wait_for(
        lambda: marker_image["marker"] in console(),
        timeout=120,
        interval=0.5,
        what="the marker after unshelve",
    )
    assert len(qemu_pids(server_id)) == 1
    assert "shelf-shelved" not in [i["Name"] for i in cli.json("image", "list")]

    cli.run("server", "delete", "--wait", server_id)
    assert qemu_pids(server_id) == []


def test_server_groups_with_the_openstack_cli(openstack_demo, compute_host, marker_image):
    cli = openstack_demo
    group = cli.json("server", "group", "create", "--policy", "anti-affinity", "cli-group")
    assert group["policy"] == "anti-affinity" or group.get("policies") == "anti-affinity"
    assert group["name"] == "cli-group"
    listed = cli.json("server", "group", "list")
    assert [g["ID"] for g in listed if g["Name"] == "cli-group"] == [group["id"]]
    server = cli.json(
        "server", "create", "--image", marker_image["id"], "--flavor", marker_image["flavor"],
        "--nic", "none", "--hint", f"group={group['id']}", "--wait", "grouped",
    )  # fmt: skip
    assert server["status"] == "ACTIVE"
    shown = cli.json("server", "group", "show", "cli-group")
    assert shown["id"] == group["id"] and server["id"] in str(shown["members"])
    cli.run("server", "delete", "--wait", server["id"])
    cli.run("server", "group", "delete", "cli-group")
    assert "cli-group" not in [g["Name"] for g in cli.json("server", "group", "list")]
