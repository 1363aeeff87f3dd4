"""python-openstackclient, unmodified, driving volumes: create, list, show by name, attach to a
server on a real compute agent, detach, delete."""

from __future__ import annotations

import pytest

from tests.instances.live import Cloud, token
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


@pytest.fixture
def cloud(live_stack, credentials) -> Cloud:
    return Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))


def test_the_volume_commands_of_the_openstack_cli(openstack_demo, compute_host, marker_image, cloud):
    cli = openstack_demo
    created = cli.json("volume", "create", "--size", "1", "v1")
    assert created["size"] == 1 and created["name"] == "v1"
    wait_for(
        lambda: cli.json("volume", "show", "v1")["status"] == "available", timeout=60, what="v1 available"
    )
    assert [v["Name"] for v in cli.json("volume", "list") if v["ID"] == created["id"]] == ["v1"]
    server_id = cloud.create("cli-vm", marker_image["id"], marker_image["flavor"])
    cloud.wait_status(server_id, "ACTIVE")
    cli.run("server", "add", "volume", server_id, "v1")
    wait_for(lambda: cli.json("volume", "show", "v1")["status"] == "in-use", timeout=60, what="v1 in-use")
    cli.run("server", "remove", "volume", server_id, "v1")
    wait_for(
        lambda: cli.json("volume", "show", "v1")["status"] == "available", timeout=60, what="v1 available"
    )
    cli.run("volume", "delete", "v1")
    wait_for(
        lambda: created["id"] not in [v["ID"] for v in cli.json("volume", "list")],
        timeout=60,
        what="v1 to be gone",
    )
    cloud.delete(f"/servers/{server_id}")
    cloud.wait_deleted(server_id)
