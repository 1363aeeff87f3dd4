"""Resize (revert, then confirm), rebuild and rescue with the unmodified openstack CLI on the live
compute host with real QEMU: the QEMU process has the flavor's vCPUs and RAM, the root disk its
virtual size (qemu-img info -U), and the console log the marker of the image that booted."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.instances.bootimage import build_boot_image
from tests.instances.live import Cloud, qemu_pids, token
from tests.support.wait import wait_for

pytestmark = pytest.mark.live

BIGGER = {"name": "t.marker-2", "ram": 192, "vcpus": 2, "disk": 2, "OS-FLV-EXT-DATA:ephemeral": 1}
GiB = 1024**3


def qemu_size(server_id: str) -> tuple[int, int]:
    """(-smp, -m) of the guest's one live QEMU process."""
    pids = wait_for(lambda: qemu_pids(server_id), timeout=60, what="the QEMU process")
    assert len(pids) == 1, pids
    args = Path(f"/proc/{pids[0]}/cmdline").read_bytes().decode().split("\0")
    return int(args[args.index("-smp") + 1].split(",")[0]), int(args[args.index("-m") + 1])


def root_size(live_stack, server_id: str) -> int:
    disk = live_stack.compute_state_dir("live1") / "disks" / server_id / "disk"
    out = subprocess.run(
        ["qemu-img", "info", "-U", "-f", "qcow2", "--output=json", str(disk)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["virtual-size"]


def test_resize_revert_confirm_rebuild_and_rescue_with_the_cli(
    openstack_demo, live_stack, credentials, compute_host, marker_image, tmp_path
):
    cli = openstack_demo
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    bigger = admin.ensure_flavor(BIGGER)
    other_marker = f"STRATUS-MARKER {uuid.uuid4().hex[:12]}"
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    other = demo.upload_image("other-marker", build_boot_image(tmp_path / "other.raw", other_marker))

    def status() -> str:
        return cli.json("server", "show", server_id)["status"]

    def reach(expected: str, what: str) -> None:
        wait_for(lambda: status() == expected, timeout=120, interval=0.5, what=f"{what} to reach {expected}")

    def console_shows(marker: str) -> bool:
        return marker in cli.run("console", "log", "show", server_id).stdout

    name = f"ops-{uuid.uuid4().hex[:6]}"
    created = cli.json(
        "server", "create", "--image", marker_image["id"], "--flavor", marker_image["flavor"],
        "--nic", "none", "--wait", name,
    )  # fmt: skip
    server_id = created["id"]
    try:
        assert qemu_size(server_id) == (1, 128) and root_size(live_stack, server_id) == 1 * GiB

        # Resize, then revert: the old vCPUs, RAM and disk are back.
        cli.run("server", "resize", "--flavor", bigger, server_id)
        reach("VERIFY_RESIZE", "resize")
        assert qemu_size(server_id) == (2, 192) and root_size(live_stack, server_id) == 2 * GiB
        cli.run("server", "resize", "revert", server_id)
        reach("ACTIVE", "revert")
        assert qemu_size(server_id) == (1, 128) and root_size(live_stack, server_id) == 1 * GiB
        assert cli.json("server", "show", server_id)["flavor"]["original_name"] == "t.marker"

        # Resize again and confirm.
        cli.run("server", "resize", "--flavor", bigger, server_id)
        reach("VERIFY_RESIZE", "resize")
        cli.run("server", "resize", "confirm", server_id)
        reach("ACTIVE", "confirm")
        assert qemu_size(server_id) == (2, 192) and root_size(live_stack, server_id) == 2 * GiB
        assert cli.json("server", "show", server_id)["flavor"]["original_name"] == BIGGER["name"]
        kept = live_stack.compute_state_dir("live1") / "resize" / server_id
        wait_for(lambda: not kept.exists(), timeout=30, what="the old disks to be removed")

        # Rebuild with the other image: same server, the other marker on the console.
        cli.run("server", "rebuild", "--image", other, "--wait", server_id)
        assert status() == "ACTIVE"
        wait_for(lambda: console_shows(other_marker), timeout=60, interval=0.5, what="the rebuilt marker")
        assert qemu_size(server_id) == (2, 192)

        # Rescue from the first image, then back to the instance's own disk.
        cli.run("server", "rescue", "--image", marker_image["id"], server_id)
        reach("RESCUE", "rescue")
        wait_for(
            lambda: console_shows(marker_image["marker"]), timeout=60, interval=0.5, what="rescue marker"
        )
        cli.run("server", "unrescue", server_id)
        reach("ACTIVE", "unrescue")
        wait_for(lambda: console_shows(other_marker), timeout=60, interval=0.5, what="the own marker")
        assert not console_shows(marker_image["marker"])
    finally:
        cli.run("server", "delete", "--wait", server_id)
    assert qemu_pids(server_id) == []


def test_resize_to_a_second_host_on_this_machine_copies_the_disks_and_revert_comes_back(
    openstack_admin, live_stack, credentials, compute_host, marker_image
):
    """A second agent on this machine: the resize goes to it (most free RAM), its root disk is the
    copied overlay on its own cached base; revert brings the guest back to live1, confirm of a
    second resize leaves it on live2. The extra host is disabled afterwards, so no later launch
    of the session lands on it. Run as admin: only admins may pick the first host."""
    cli = openstack_admin
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    bigger = admin.ensure_flavor(BIGGER)
    agent = live_stack.start_compute_agent("live2", env={"STRATUS_QEMU_ACCEL": "tcg"})
    server_id = ""
    try:

        def where() -> tuple[str, str]:
            shown = cli.json("server", "show", server_id)
            return shown["status"], shown["OS-EXT-SRV-ATTR:host"]

        def reach(expected: tuple[str, str]) -> None:
            wait_for(lambda: where() == expected, timeout=120, interval=0.5, what=f"the server at {expected}")

        created = cli.json(
            "server", "create", "--image", marker_image["id"], "--flavor", marker_image["flavor"],
            "--availability-zone", "nova:live1", "--nic", "none", "--wait", f"mv-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        server_id = created["id"]
        reach(("ACTIVE", "live1"))
        cli.run("server", "resize", "--flavor", bigger, server_id)
        reach(("VERIFY_RESIZE", "live2"))
        assert qemu_size(server_id) == (2, 192)
        disk = live_stack.compute_state_dir("live2") / "disks" / server_id / "disk"
        info = json.loads(
            subprocess.run(
                ["qemu-img", "info", "-U", "-f", "qcow2", "--output=json", str(disk)],
                capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
        assert info["virtual-size"] == 2 * GiB
        assert info["backing-filename"].startswith(str(live_stack.compute_state_dir("live2") / "_base"))
        cli.run("server", "resize", "revert", server_id)
        reach(("ACTIVE", "live1"))
        assert qemu_size(server_id) == (1, 128) and root_size(live_stack, server_id) == 1 * GiB
        cli.run("server", "resize", "--flavor", bigger, server_id)
        reach(("VERIFY_RESIZE", "live2"))
        cli.run("server", "resize", "confirm", server_id)
        reach(("ACTIVE", "live2"))
        assert qemu_size(server_id) == (2, 192)
        kept = live_stack.compute_state_dir("live1") / "resize" / server_id
        wait_for(lambda: not kept.exists(), timeout=30, what="live1 to remove the old disks")
    finally:
        if server_id:
            cli.run("server", "delete", "--wait", server_id)
        service = next(
            s for s in admin.get("/os-services", "2.53").json()["services"] if s["host"] == "live2"
        )
        admin.put(f"/os-services/{service['id']}", {"status": "disabled"}, "2.53")
        live_stack.services.pop("compute-live2", agent).stop()
