"""Live migration between two QEMU drivers with separate state dirs (two hosts on one machine):
a guest that keeps printing a counter on its serial port moves with its memory and disks."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from instances.virt import disks
from instances.virt.base import DiskSpec, GuestSpec, IncomingEndpoint, PowerState, VirtError
from instances.virt.bootsector import build_ticker_image
from instances.virt.qemu import QemuDriver
from instances.virt.qmp import QMPClient
from tests.instances.virt.test_qemu_driver import live_processes_under
from tests.support.wait import wait_for

TICK = re.compile(r"tick ([0-9A-F]{4})\r?\n")


class Host:
    """One side: its driver, its own cache copy of the base image and its disks dir."""

    def __init__(self, root: Path, image: Path):
        self.root = root
        self.driver = QemuDriver(root / "state", accel="tcg")
        self.base = root / "_base" / "ticker"
        self.base.parent.mkdir(parents=True)
        shutil.copyfile(image, self.base)

    def disks_for(self, guest_uuid: str, limits) -> list[DiskSpec]:
        directory = self.root / "disks" / guest_uuid
        root = disks.create_overlay(self.base, "raw", directory / "disk", 1, limits=limits)
        eph = disks.create_blank(directory / "disk.eph0", size_mb=16, limits=limits)
        return [DiskSpec(str(root), "qcow2", "vda"), DiskSpec(str(eph), "qcow2", "vdb")]

    def qmp(self, guest_uuid: str) -> QMPClient:
        return QMPClient(self.driver.dirs.dir(guest_uuid) / "qmp.sock")

    def log(self, guest_uuid: str) -> str:
        return self.driver.console_output(guest_uuid)


@pytest.fixture
def ticker(tmp_path: Path) -> tuple[Path, str]:
    marker = f"TICKER {uuid.uuid4().hex[:8]}"
    return build_ticker_image(tmp_path / "ticker.raw", marker), marker


@pytest.fixture
def hosts(tmp_path: Path, ticker):
    image, _ = ticker
    pair = Host(tmp_path / "a", image), Host(tmp_path / "b", image)
    yield pair
    for host in pair:
        for guest in host.driver.list_defined():
            host.driver.destroy(guest)
    assert live_processes_under(tmp_path) == []


def counters(text: str) -> list[int]:
    return [int(n, 16) for n in TICK.findall(text)]


def wait_ticks(host: Host, guest_uuid: str, count: int) -> None:
    wait_for(lambda: len(counters(host.log(guest_uuid))) >= count, timeout=60, what=f"{count} ticks")


def hmp(host: Host, guest_uuid: str, command: str) -> str:
    with host.qmp(guest_uuid) as qmp:
        return qmp.execute("human-monitor-command", **{"command-line": command})


def write_block(host: Host, guest_uuid: str, target: str, pattern: int, offset: str) -> None:
    """Write 64 KiB of ``pattern`` at ``offset`` into the running guest's disk, as the guest would."""
    device = f"/machine/peripheral/dev-{target}/virtio-backend"
    assert hmp(host, guest_uuid, f'qemu-io -d {device} "write -P {pattern:#x} {offset} 64k"') == ""
    path = host.driver.saved_spec(guest_uuid).disk(target).path
    hmp(host, guest_uuid, f"qemu-io -d {device} flush")
    assert read_matches(path, pattern, offset)


def read_matches(path: str, pattern: int, offset: str) -> bool:
    result = subprocess.run(
        ["qemu-io", "-r", "-U", "-f", "qcow2", "-c", f"read -P {pattern:#x} {offset} 64k", path],
        capture_output=True,
        text=True,
        check=True,
    )
    return "Pattern verification failed" not in result.stdout + result.stderr


def identical(a: str, b: str) -> bool:
    """The guest-visible content of two qcow2 disks, each read through its own backing file."""
    result = subprocess.run(
        ["qemu-img", "compare", "-U", "-f", "qcow2", "-F", "qcow2", a, b], capture_output=True, text=True
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


def running_guest(host: Host, limits, **overrides) -> GuestSpec:
    guest_uuid = str(uuid.uuid4())
    spec = GuestSpec(
        uuid=guest_uuid,
        name="mover",
        vcpus=1,
        memory_mb=64,
        disks=host.disks_for(guest_uuid, limits),
        **overrides,
    )
    host.driver.spawn(spec)
    wait_ticks(host, guest_uuid, 3)
    return spec


def destination_spec(host: Host, spec: GuestSpec, limits) -> GuestSpec:
    return spec.with_disks(host.disks_for(spec.uuid, limits))


def migration_leftovers(host: Host, guest_uuid: str) -> tuple[list, list[str]]:
    with host.qmp(guest_uuid) as qmp:
        jobs = qmp.execute("query-block-jobs")
        nodes = [n["node-name"] for n in qmp.execute("query-named-block-nodes", flat=True)]
    return jobs, [n for n in nodes if n.startswith("migration")]


def test_a_running_guest_moves_with_its_memory_and_disks_and_keeps_counting(hosts, ticker, limits):
    source, destination = hosts
    _, marker = ticker
    spec = running_guest(source, limits)
    write_block(source, spec.uuid, "vda", 0x5A, "512k")
    write_block(source, spec.uuid, "vdb", 0xC3, "1m")
    target = destination_spec(destination, spec, limits)

    endpoint = destination.driver.prepare_incoming(target, "127.0.0.1")
    assert endpoint.exports == ("vda", "vdb")
    assert destination.driver.power_state(spec.uuid) == PowerState.PAUSED
    source.driver.migrate_to(spec.uuid, endpoint)
    # The source stopped at the switch-over and keeps its process until the destination runs.
    with source.qmp(spec.uuid) as qmp:
        assert qmp.execute("query-status")["status"] == "postmigrate"
    assert migration_leftovers(source, spec.uuid) == ([], [])
    last_on_source = counters(source.log(spec.uuid))[-1]
    destination.driver.finish_incoming(spec.uuid)
    source.driver.destroy(spec.uuid)

    assert destination.driver.power_state(spec.uuid) == PowerState.RUNNING
    wait_ticks(destination, spec.uuid, 3)
    moved = counters(destination.log(spec.uuid))
    # Same memory, same CPU: the counter goes on from where it was, without a boot in between.
    assert marker not in destination.log(spec.uuid)
    assert moved[0] in (last_on_source + 1, last_on_source + 2)
    assert moved == list(range(moved[0], moved[0] + len(moved)))
    # The disks are what the guest wrote, block for block, each on its own host's base image.
    for before, after in zip(spec.disks, target.disks, strict=True):
        assert identical(before.path, after.path)
    assert read_matches(target.disk("vda").path, 0x5A, "512k")
    assert read_matches(target.disk("vdb").path, 0xC3, "1m")
    assert disks.info(target.disk("vda").path, "qcow2", in_use=True).backing_file == str(destination.base)


def test_a_destination_that_goes_away_leaves_the_source_running_as_before(hosts, limits):
    source, destination = hosts
    spec = running_guest(source, limits)
    endpoint = destination.driver.prepare_incoming(destination_spec(destination, spec, limits), "127.0.0.1")
    destination.driver.destroy(spec.uuid)  # the destination host fails before the copy

    with pytest.raises(VirtError):
        source.driver.migrate_to(spec.uuid, endpoint, timeout=30)

    assert source.driver.power_state(spec.uuid) == PowerState.RUNNING
    assert migration_leftovers(source, spec.uuid) == ([], [])
    seen = len(counters(source.log(spec.uuid)))
    wait_ticks(source, spec.uuid, seen + 2)
    assert destination.driver.list_defined() == []


def test_the_source_runs_again_when_the_destination_fails_after_the_copy(hosts, limits):
    source, destination = hosts
    spec = running_guest(source, limits)
    endpoint = destination.driver.prepare_incoming(destination_spec(destination, spec, limits), "127.0.0.1")
    source.driver.migrate_to(spec.uuid, endpoint)
    destination.driver.destroy(spec.uuid)

    source.driver.resume_source(spec.uuid)

    assert source.driver.power_state(spec.uuid) == PowerState.RUNNING
    seen = counters(source.log(spec.uuid))
    wait_ticks(source, spec.uuid, len(seen) + 2)
    assert counters(source.log(spec.uuid))[len(seen)] == seen[-1] + 1


def test_a_destination_that_cannot_start_leaves_nothing_behind(hosts, limits, tmp_path):
    source, destination = hosts
    spec = running_guest(source, limits)
    target = destination_spec(destination, spec, limits)
    Path(target.disk("vdb").path).unlink()

    with pytest.raises(VirtError, match="missing"):
        destination.driver.prepare_incoming(target, "127.0.0.1")

    assert destination.driver.list_defined() == []
    assert live_processes_under(tmp_path / "b") == []
    assert source.driver.power_state(spec.uuid) == PowerState.RUNNING


def test_the_migration_address_must_be_an_ip_address(hosts, limits):
    source, destination = hosts
    guest_uuid = str(uuid.uuid4())
    spec = GuestSpec(
        uuid=guest_uuid, name="x", vcpus=1, memory_mb=64, disks=destination.disks_for(guest_uuid, limits)
    )
    with pytest.raises(VirtError, match="IP address"):
        destination.driver.prepare_incoming(spec, "compute-2.example")
    assert destination.driver.list_defined() == []


def test_a_volume_both_hosts_reach_is_not_copied_and_the_guest_keeps_using_it(hosts, limits, tmp_path):
    source, destination = hosts
    volume = disks.create_blank(tmp_path / "volumes" / "volume-1", size_mb=8, limits=limits)
    spec = running_guest(source, limits)
    source.driver.attach_disk(spec.uuid, DiskSpec(str(volume), "qcow2", "vdc"))
    spec = source.driver.saved_spec(spec.uuid)
    write_block(source, spec.uuid, "vdc", 0x77, "256k")
    target = spec.with_disks([*destination.disks_for(spec.uuid, limits), spec.disk("vdc")])

    endpoint = destination.driver.prepare_incoming(target, "127.0.0.1", shared=("vdc",))
    assert endpoint.exports == ("vda", "vdb")
    source.driver.migrate_to(spec.uuid, endpoint, shared=("vdc",))
    destination.driver.finish_incoming(spec.uuid)
    source.driver.destroy(spec.uuid)

    wait_ticks(destination, spec.uuid, 2)
    # The destination took the volume over, locks and all: it writes to it as the source did.
    write_block(destination, spec.uuid, "vdc", 0x78, "512k")
    assert read_matches(str(volume), 0x77, "256k") and read_matches(str(volume), 0x78, "512k")


def test_a_disk_neither_copied_nor_shared_is_refused_before_anything_moves(hosts, limits):
    source, destination = hosts
    spec = running_guest(source, limits)
    endpoint = destination.driver.prepare_incoming(destination_spec(destination, spec, limits), "127.0.0.1")
    incomplete = IncomingEndpoint(endpoint.address, endpoint.nbd_port, endpoint.migration_port, ("vda",))
    with pytest.raises(VirtError, match="no disk for vdb"):
        source.driver.migrate_to(spec.uuid, incomplete)
    assert source.driver.power_state(spec.uuid) == PowerState.RUNNING
    assert migration_leftovers(source, spec.uuid) == ([], [])
