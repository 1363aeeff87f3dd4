"""Live migration with the unmodified openstack CLI between two compute agents on this machine with
separate state dirs, the second one configured as a machine of its own (no image store: the image
its overlay needs comes through the image API, verified). A guest that keeps printing a counter on
its serial port moves from live1 to the second host while it runs; the counter goes on without a
gap or a boot, and the disk the guest sees on the new host is the one it had, block for block (a
block written into it included)."""

from __future__ import annotations

import re
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from instances.virt.bootsector import build_ticker_image
from instances.virt.qmp import QMPClient
from tests.instances.live import Cloud, qemu_pids, start_far_agent, token
from tests.support.wait import WaitTimeout, wait_for

pytestmark = pytest.mark.live

TICK = re.compile(r"tick ([0-9A-F]{4})\r?\n")


def counters(text: str) -> list[int]:
    return [int(n, 16) for n in TICK.findall(text)]


def guest_view(disk: Path, into: Path) -> bytes:
    """What the guest reads from a qcow2 disk (through its backing file), as raw bytes."""
    subprocess.run(
        ["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", str(disk), str(into)], check=True
    )
    return into.read_bytes()


def test_a_running_guest_moves_to_another_host_and_keeps_counting(
    openstack_admin, live_stack, credentials, compute_host, tmp_path
):
    cli = openstack_admin
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    marker = f"TICKER {uuid.uuid4().hex[:8]}"
    image = admin.upload_image("ticker", build_ticker_image(tmp_path / "ticker.raw", marker))
    flavor = admin.ensure_flavor()
    second = f"live-m{uuid.uuid4().hex[:4]}"
    # Under the stack's directory: the stack's teardown reaps a guest a failed test left there.
    far = live_stack.root / f"far-{second}"
    agent = start_far_agent(live_stack, second, far)
    server_id = ""
    try:
        created = cli.json(
            "server", "create", "--image", image, "--flavor", flavor, "--availability-zone", "nova:live1",
            "--nic", "none", "--wait", f"lm-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        server_id = created["id"]
        assert created["OS-EXT-SRV-ATTR:host"] == "live1"
        wait_for(lambda: len(counters(admin.console(server_id))) >= 3, timeout=60, what="the guest counting")

        # A block written into the running guest's root disk, as the guest would write it.
        source = live_stack.compute_state_dir("live1")
        with QMPClient(source / "instances" / server_id / "qmp.sock") as qmp:
            device = "/machine/peripheral/dev-vda/virtio-backend"
            qmp.execute(
                "human-monitor-command", **{"command-line": f'qemu-io -d {device} "write -P 0x6b 2m 64k"'}
            )
            qmp.execute("human-monitor-command", **{"command-line": f"qemu-io -d {device} flush"})
        before = guest_view(source / "disks" / server_id / "disk", tmp_path / "before.raw")
        assert before[2 * 1024**2 : 2 * 1024**2 + 65536] == b"\x6b" * 65536

        # Every status the server shows from just before the command on, as a dashboard would poll.
        statuses: list[str] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                shown = admin.server(server_id)
                if not statuses or statuses[-1] != shown["status"]:
                    statuses.append(shown["status"])

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            # No microversion given: the client negotiates one (≥ 2.30 for --host, block_migration auto).
            cli.run("server", "migrate", "--live-migration", "--host", second, server_id)

            def moved() -> bool:
                shown = admin.server(server_id)
                assert shown["status"] != "ERROR", shown.get("fault")
                return shown["status"] == "ACTIVE" and shown["OS-EXT-SRV-ATTR:host"] == second

            try:
                wait_for(moved, timeout=300, interval=0.1, what=f"the server to run on {second}")
            except WaitTimeout as exc:
                logs = "\n".join(
                    live_stack.log(name) for name in ("compute-live1", f"compute-{second}", "web")
                )
                raise AssertionError(f"{exc}; statuses {statuses}\n{logs}") from exc
        finally:
            done.set()
            watcher.join()
        assert statuses[0] == "ACTIVE" and statuses[-1] == "ACTIVE", statuses
        assert "MIGRATING" in statuses

        # One QEMU process, the new host's; the old host's guest and disks are gone.
        pids = qemu_pids(server_id)
        assert len(pids) == 1
        target = far / "state"
        assert str(target).encode() in Path(f"/proc/{pids[0]}/cmdline").read_bytes()
        wait_for(lambda: not (source / "disks" / server_id).exists(), timeout=60, what="live1 to clean up")
        assert not (source / "instances" / server_id).exists()

        # The counter goes on from where it was on live1, with no boot in between, and keeps going.
        seen = counters(cli.run("console", "log", "show", server_id).stdout)
        wait_for(
            lambda: len(counters(cli.run("console", "log", "show", server_id).stdout)) >= len(seen) + 3,
            timeout=60,
            interval=0.5,
            what="the guest counting on its new host",
        )
        log = cli.run("console", "log", "show", server_id).stdout
        ticks = counters(log)
        assert log.count(marker) == 1
        assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))

        after = guest_view(target / "disks" / server_id / "disk", tmp_path / "after.raw")
        assert after == before
        info = subprocess.run(
            ["qemu-img", "info", "-U", "-f", "qcow2", str(target / "disks" / server_id / "disk")],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert str(target / "_base") in info
        # The target's base image came through the image API into its own cache (it has no store).
        assert (target / "_base" / f"{image}.json").exists()
        far_store = far / "data" / "images"
        assert not far_store.exists() or not any(far_store.iterdir())

        events = cli.json("server", "event", "list", server_id)
        assert any(e["Action"] == "live-migration" for e in events)
    finally:
        if server_id:
            cli.run("server", "delete", "--wait", server_id)
        service = next(s for s in admin.get("/os-services", "2.53").json()["services"] if s["host"] == second)
        admin.put(f"/os-services/{service['id']}", {"status": "disabled"}, "2.53")
        live_stack.services.pop(f"compute-{second}", agent).stop()
    assert qemu_pids(server_id) == []
