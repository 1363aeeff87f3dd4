"""python-openstackclient, unmodified, editing, tagging, locking a server on a real compute agent
(QEMU) and reading its action log: set/unset, lock/unlock, server event list/show."""

from __future__ import annotations

import pytest

from tests.support.wait import wait_for

pytestmark = pytest.mark.live


def test_edit_metadata_tags_lock_and_events_with_the_openstack_cli(
    openstack_demo, openstack_admin, compute_host, marker_image
):
    demo, admin = openstack_demo, openstack_admin
    created = demo.json(
        "server", "create", "--image", marker_image["id"], "--flavor", "t.marker", "--nic", "none",
        "--wait", "ops-vm",
    )  # fmt: skip
    server_id = created["id"]

    def shown() -> dict:
        return demo.json("server", "show", server_id)

    def wait_status(expected: str) -> None:
        wait_for(lambda: shown()["status"] == expected, timeout=90, interval=0.5, what=f"status {expected}")

    try:
        demo.run("server", "set", "--name", "ops-renamed", server_id)
        demo.run("server", "set", "--property", "role=web", "--property", "tier=1", "ops-renamed")
        demo.run("server", "unset", "--property", "tier", "ops-renamed")
        demo.run("server", "set", "--tag", "blue", "--tag", "prod", "ops-renamed")
        body = shown()
        assert body["name"] == "ops-renamed"
        assert body["properties"] == {"role": "web"}
        assert sorted(body["tags"]) == ["blue", "prod"]
        tagged = demo.json("server", "list", "--tags", "blue")
        assert [s["ID"] for s in tagged] == [server_id]

        demo.run("server", "lock", "--reason", "maintenance", server_id)
        body = shown()
        assert body["locked"] is True and body["locked_reason"] == "maintenance"
        refused = demo.run("server", "stop", server_id, check=False)
        assert refused.returncode != 0
        assert f"Instance {server_id} is locked" in refused.stderr
        assert shown()["status"] == "ACTIVE"

        admin.run("server", "stop", server_id)  # an admin may act on a locked server
        wait_status("SHUTOFF")
        demo.run("server", "unlock", server_id)
        assert shown()["locked"] is False
        demo.run("server", "start", server_id)
        wait_status("ACTIVE")

        events = demo.json("server", "event", "list", server_id)
        actions = [e["Action"] for e in events]
        assert actions[:4] == ["start", "unlock", "stop", "lock"] and actions[-1] == "create"
        stop = next(e for e in events if e["Action"] == "stop")
        detail = admin.json("server", "event", "show", server_id, stop["Request ID"])
        (event,) = detail["events"]
        assert event["event"] == "compute_stop_instance" and event["result"] == "Success"
        assert event["host"] == compute_host
        member_view = demo.json("server", "event", "show", server_id, stop["Request ID"])
        assert [e["event"] for e in member_view["events"]] == ["compute_stop_instance"]
        assert "traceback" not in member_view["events"][0] or not member_view["events"][0]["traceback"]
    finally:
        demo.run("server", "delete", "--wait", server_id, check=False)
