"""A compute host as on another machine, and moving instances with the unmodified openstack CLI.

The second agent runs with a data directory of its own: it sees the controller only through its
database, Redis, SECRET_KEY and API URL (STRATUS_CONTROLLER_URL), not the image store, so it
streams images from the image API and verifies them; a corrupted image is refused. Cold migration
copies the disks between the two hosts through the old host's transfer endpoint (no shared file
system), with revert and confirm; evacuation rebuilds the instance of a killed, forced-down agent
on the other host with its volume attached again; the host is then disabled and removed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.instances.bootimage import build_boot_image
from tests.instances.live import Cloud, qemu_pids, start_far_agent, token
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


def disk_content_equal(one: Path, other: Path) -> bool:
    """The two qcow2 overlays show the guest the same bytes (their bases may be different files)."""
    result = subprocess.run(
        ["qemu-img", "compare", "-U", "-f", "qcow2", "-F", "qcow2", str(one), str(other)],
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


@pytest.fixture
def far_host(live_stack, compute_host, credentials):
    """The second host, for this test only: disabled and removed after it (its agent stopped). Its
    directory is under the stack's, so the stack's teardown reaps a guest a failed test left."""
    name = f"far-{uuid.uuid4().hex[:6]}"
    agent = start_far_agent(live_stack, name, live_stack.root / name)
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    try:
        yield {"name": name, "root": live_stack.root / name, "agent": agent}
    finally:
        live_stack.services.pop(f"compute-{name}", agent).stop()
        for service in admin.get(f"/os-services?host={name}", "2.53").json()["services"]:
            admin.put(f"/os-services/{service['id']}", {"status": "disabled"}, "2.53")
            removed = admin.delete(f"/os-services/{service['id']}")
            assert removed.status_code == 204, removed.text  # it holds nothing any more


def test_an_agent_without_the_image_store_fetches_through_the_api_and_cold_migration_copies_the_disks(
    openstack_admin, live_stack, credentials, compute_host, far_host, marker_image, tmp_path
):
    cli, far = openstack_admin, far_host["name"]
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    far_state = far_host["root"] / "state"
    server_id = ""

    def where() -> tuple[str, str]:
        shown = cli.json("server", "show", server_id)
        return shown["status"], shown["OS-EXT-SRV-ATTR:host"]

    def reach(expected: tuple[str, str]) -> None:
        wait_for(lambda: where() == expected, timeout=180, interval=0.5, what=f"the server at {expected}")

    def console_shows(marker: str) -> bool:
        return marker in cli.run("console", "log", "show", server_id).stdout

    # A corrupted image (one byte flipped in the store after upload) is refused by the far host.
    bad_marker = f"STRATUS-MARKER {uuid.uuid4().hex[:12]}"
    bad = admin.upload_image("bad-marker", build_boot_image(tmp_path / "bad.raw", bad_marker))
    stored = Path(
        live_stack.shell(
            "from images.models import Image; from images.stores import get_store; "
            f"loc = Image.objects.get(pk='{bad}').locations.first(); "
            "print(get_store(loc.store).path(loc.data_key))"
        )
    )
    data = bytearray(stored.read_bytes())
    data[600] ^= 0xFF
    stored.chmod(0o644)
    stored.write_bytes(bytes(data))
    refused = cli.json(
        "server", "create", "--image", bad, "--flavor", marker_image["flavor"],
        "--availability-zone", f"nova:{far}", "--nic", "none", f"bad-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    try:
        wait_for(
            lambda: cli.json("server", "show", refused["id"])["status"] == "ERROR",
            timeout=120,
            interval=0.5,
            what="the build of the corrupted image to fail",
        )
        fault = cli.json("server", "show", refused["id"])["fault"]["message"]
        assert "does not match its checksum" in fault or "does not match its os_hash_value" in fault, fault
        assert not (far_state / "_base" / f"{bad}.base").exists()
    finally:
        cli.run("server", "delete", "--wait", refused["id"])

    try:
        # Launched on the far host: its image comes through the image API into its own cache.
        created = cli.json(
            "server", "create", "--image", marker_image["id"], "--flavor", marker_image["flavor"],
            "--availability-zone", f"nova:{far}", "--nic", "none", "--wait", f"mig-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        server_id = created["id"]
        reach(("ACTIVE", far))
        cached = json.loads((far_state / "_base" / f"{marker_image['id']}.json").read_text())
        assert cached["size"] == marker_image["path"].stat().st_size
        assert not (far_host["root"] / "data" / "images").exists() or not any(
            (far_host["root"] / "data" / "images").iterdir()
        )
        wait_for(lambda: console_shows(marker_image["marker"]), timeout=90, interval=0.5, what="the marker")
        hypervisor = admin.hypervisor(far)
        assert hypervisor["state"] == "up" and hypervisor["status"] == "enabled"

        # Cold migrate to live1, then revert: back on the far host, running.
        cli.run("--os-compute-api-version", "2.56", "server", "migrate", "--host", compute_host, server_id)
        reach(("VERIFY_RESIZE", compute_host))
        moved = live_stack.compute_state_dir(compute_host) / "disks" / server_id / "disk"
        assert disk_content_equal(moved, far_state / "resize" / server_id / "disk")
        assert len(qemu_pids(server_id)) == 1
        migrations = admin.get(f"/os-migrations?instance_uuid={server_id}", "2.80").json()["migrations"]
        assert [
            (m["migration_type"], m["status"], m["source_compute"], m["dest_compute"]) for m in migrations
        ] == [("migration", "finished", far, compute_host)]
        cli.run("server", "resize", "revert", server_id)
        reach(("ACTIVE", far))
        assert not moved.exists()

        # Migrate again (the scheduler picks the other host) and confirm: it stays on live1.
        cli.run("server", "migrate", server_id)
        reach(("VERIFY_RESIZE", compute_host))
        wait_for(lambda: console_shows(marker_image["marker"]), timeout=90, interval=0.5, what="the marker")
        cli.run("server", "migration", "confirm", server_id)
        reach(("ACTIVE", compute_host))
        wait_for(
            lambda: not (far_state / "resize" / server_id).exists(),
            timeout=30,
            what="the far host to remove the old disks",
        )
        statuses = [m["Status"] for m in cli.json("server", "migration", "list", "--server", server_id)]
        assert sorted(statuses) == ["confirmed", "reverted"]
    finally:
        if server_id:
            cli.run("server", "delete", "--wait", server_id)
    assert qemu_pids(server_id) == []


def test_evacuate_rebuilds_the_instance_of_a_killed_agent_on_the_other_host_with_its_volume(
    openstack_admin, live_stack, credentials, compute_host, far_host, marker_image
):
    cli, far = openstack_admin, far_host["name"]
    server_id = volume_id = ""
    try:
        created = cli.json(
            "server", "create", "--image", marker_image["id"], "--flavor", marker_image["flavor"],
            "--availability-zone", f"nova:{far}", "--nic", "none", "--wait", f"evac-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        server_id = created["id"]
        volume_id = cli.json("volume", "create", "--size", "1", f"evac-vol-{uuid.uuid4().hex[:6]}")["id"]
        wait_for(
            lambda: cli.json("volume", "show", volume_id)["status"] == "available",
            timeout=60,
            what="the volume",
        )
        cli.run("server", "add", "volume", server_id, volume_id)
        wait_for(
            lambda: cli.json("volume", "show", volume_id)["status"] == "in-use", timeout=60, what="attached"
        )
        (old_pid,) = qemu_pids(server_id)

        # The host dies: its agent and its guest are killed (as when the machine loses power), and
        # the operator declares it down.
        far_host["agent"].kill()
        os.kill(old_pid, signal.SIGKILL)
        wait_for(lambda: old_pid not in qemu_pids(server_id), timeout=30, what="the old guest to die")
        refused = cli.run("--os-compute-api-version", "2.29", "server", "evacuate", server_id, check=False)
        assert refused.returncode != 0 and "still in use" in refused.stderr
        cli.run(
            "--os-compute-api-version", "2.53", "compute", "service", "set", "--down", far, "nova-compute"
        )
        cli.run("--os-compute-api-version", "2.29", "server", "evacuate", "--host", compute_host, server_id)
        wait_for(
            lambda: (
                (lambda s: (s["status"], s["OS-EXT-SRV-ATTR:host"]))(cli.json("server", "show", server_id))
                == ("ACTIVE", compute_host)
            ),
            timeout=180,
            interval=0.5,
            what="the evacuated server on live1",
        )
        (new_pid,) = qemu_pids(server_id)
        args = Path(f"/proc/{new_pid}/cmdline").read_bytes().decode()
        assert volume_id in args  # the volume attached again
        assert cli.json("volume", "show", volume_id)["status"] == "in-use"
        log = cli.run("console", "log", "show", server_id).stdout
        wait_for(
            lambda: marker_image["marker"] in cli.run("console", "log", "show", server_id).stdout,
            timeout=90,
            interval=0.5,
            what=f"the marker after evacuation (log so far: {log[-200:]!r})",
        )
        migrations = cli.json("server", "migration", "list", "--server", server_id, "--type", "evacuation")
        assert [m["Status"] for m in migrations] == ["done"]

        # The far host comes back: its agent removes the stale disks of the instance it lost.
        stale = far_host["root"] / "state" / "disks" / server_id
        assert stale.is_dir()
        cli.run("--os-compute-api-version", "2.53", "compute", "service", "set", "--up", far, "nova-compute")
        far_host["agent"] = start_far_agent(live_stack, far, far_host["root"])
        wait_for(lambda: not stale.exists(), timeout=60, what="the stale disks to go")
        assert qemu_pids(server_id) == [new_pid]
    finally:
        if server_id:
            cli.run("server", "delete", "--wait", server_id)
        if volume_id:
            wait_for(
                lambda: cli.json("volume", "show", volume_id)["status"] == "available",
                timeout=60,
                what="the volume detached",
            )
            cli.run("volume", "delete", volume_id)
