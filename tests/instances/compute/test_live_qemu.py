"""A real guest end to end: the marker image uploaded through the image API, launched through
the Compute API onto a real compute agent (QEMU, TCG), driven through its whole lifecycle."""

from __future__ import annotations

import pytest

from tests.instances.live import Cloud, qemu_pids, token
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def clouds(live_stack, credentials, compute_host):
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    return demo, admin


def markers(cloud: Cloud, server_id: str, marker: str) -> int:
    return cloud.console(server_id).count(marker)


def wait_markers(cloud: Cloud, server_id: str, marker: str, count: int) -> None:
    wait_for(
        lambda: markers(cloud, server_id, marker) >= count,
        timeout=60,
        interval=0.2,
        what=f"marker #{count} on the console",
    )


def test_a_marker_guest_boots_runs_its_lifecycle_snapshots_and_is_deleted(
    live_stack, clouds, compute_host, marker_image
):
    demo, admin = clouds
    marker = marker_image["marker"]
    server_id = demo.create("lifecycle", marker_image["id"], marker_image["flavor"])
    server = demo.wait_status(server_id, "ACTIVE")
    assert server["addresses"]["private"][0]["addr"].startswith("10.100.")
    wait_markers(demo, server_id, marker, 1)
    assert len(qemu_pids(server_id)) == 1
    used = admin.hypervisor(compute_host)
    assert (used["vcpus_used"], used["memory_mb_used"], used["local_gb_used"]) == (1, 128, 2)

    demo.action(server_id, {"os-stop": None})
    demo.wait_status(server_id, "SHUTOFF")
    assert qemu_pids(server_id) == []
    demo.action(server_id, {"os-start": None})
    demo.wait_status(server_id, "ACTIVE")
    wait_markers(demo, server_id, marker, 2)
    demo.action(server_id, {"reboot": {"type": "SOFT"}})
    demo.wait_status(server_id, "ACTIVE")
    wait_markers(demo, server_id, marker, 3)
    demo.action(server_id, {"reboot": {"type": "HARD"}})
    demo.wait_status(server_id, "ACTIVE")
    wait_markers(demo, server_id, marker, 4)
    demo.action(server_id, {"pause": None})
    assert demo.wait_status(server_id, "PAUSED")["OS-EXT-STS:power_state"] == 3
    demo.action(server_id, {"unpause": None})
    demo.wait_status(server_id, "ACTIVE")

    # Snapshot while running: the new image is active, owned by the project, and boots again.
    image_id = demo.action(server_id, {"createImage": {"name": "snap"}}, "2.45").json()["image_id"]
    snap = wait_for(
        lambda: (i := demo.image(image_id))["status"] == "active" and i,
        timeout=120,
        what="the snapshot to become active",
    )
    assert snap["instance_uuid"] == server_id and snap["image_type"] == "snapshot"
    assert snap["disk_format"] == "qcow2"
    assert demo.wait_status(server_id, "ACTIVE")["OS-EXT-STS:task_state"] is None
    assert len(qemu_pids(server_id)) == 1  # the guest kept running
    again = demo.create("from-snapshot", image_id, marker_image["flavor"])
    demo.wait_status(again, "ACTIVE")
    wait_markers(demo, again, marker, 1)

    state = live_stack.compute_state_dir(compute_host)
    for victim in (server_id, again):
        assert (state / "disks" / victim / "disk").is_file()
        assert (state / "disks" / victim / "disk.eph0").is_file()
        assert demo.delete(f"/servers/{victim}").status_code == 204
        demo.wait_deleted(victim)
        assert qemu_pids(victim) == []
        assert not (state / "disks" / victim).exists()
        assert not (state / "instances" / victim).exists()
    used = admin.hypervisor(compute_host)
    assert (used["vcpus_used"], used["memory_mb_used"], used["local_gb_used"]) == (0, 0, 0)
    assert (state / "_base" / f"{marker_image['id']}.base").is_file()
    assert demo.image(marker_image["id"])["status"] == "active"


def test_reader_sees_but_cannot_act_and_other_projects_get_404(live_stack, clouds, marker_image, credentials):
    demo, admin = clouds
    server_id = demo.create("policy", marker_image["id"], marker_image["flavor"])
    try:
        assert admin.get(f"/servers/{server_id}").status_code == 200
        assert "OS-EXT-SRV-ATTR:host" in admin.server(server_id)
        assert demo.get("/servers/detail?all_tenants=True").status_code == 403
    finally:
        demo.delete(f"/servers/{server_id}")
        demo.wait_deleted(server_id)
