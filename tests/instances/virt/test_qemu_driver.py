"""The QEMU driver against real guests (TCG unless a test says otherwise, so CI needs no KVM)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from instances.virt import get_driver
from instances.virt.base import DiskSpec, GuestNotFound, NetworkSpec, PowerState, VirtError
from instances.virt.disks import create_blank, info
from instances.virt.probe import kvm_probe
from instances.virt.qemu import QemuDriver
from instances.virt.qmp import QMPClient
from instances.virt.state import host_arch, kvm_usable
from tests.instances.virt.conftest import guest_spec
from tests.support.wait import wait_for


def live_processes_under(path: Path) -> list[int]:
    """Pids of live processes whose command line mentions ``path`` (zombies have none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def state_dir(tmp_path: Path):
    state = tmp_path / "state"
    yield state
    # Whatever a test did, no guest may outlive it.
    survivor = QemuDriver(state, accel="tcg")
    for uuid in survivor.list_defined():
        survivor.destroy(uuid)
    assert live_processes_under(tmp_path) == []


@pytest.fixture
def driver(state_dir) -> QemuDriver:
    return QemuDriver(state_dir, accel="tcg")


def markers(driver, uuid: str, marker: str) -> int:
    return driver.console_output(uuid).count(marker)


def wait_markers(driver, uuid: str, marker: str, count: int) -> None:
    wait_for(
        lambda: markers(driver, uuid, marker) >= count, timeout=60, what=f"marker #{count} on the console"
    )


def qmp(driver: QemuDriver, uuid: str) -> QMPClient:
    return QMPClient(driver.dirs.dir(uuid) / "qmp.sock")


def block_devices(driver: QemuDriver, uuid: str) -> set[str]:
    with qmp(driver, uuid) as client:
        return {b["qdev"] for b in client.execute("query-block")}


def test_a_guest_boots_its_root_overlay_and_prints_the_marker_with_the_host_accelerator(
    state_dir, tmp_path, marker_image, limits
):
    image, marker = marker_image
    driver = QemuDriver(state_dir, accel="auto")
    net = NetworkSpec("10.20.0.0/24", "10.20.0.7", "10.20.0.1", "fa:16:3e:12:34:56")
    spec = guest_spec(tmp_path, image, limits, network=net)
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    # KVM only where a probe guest really ran under it: an openable /dev/kvm may still fail.
    expected = "kvm" if kvm_usable() and kvm_probe(driver.binary(host_arch())).works else "qemu"
    assert driver.capabilities().hypervisor_type == expected
    pid = int((driver.dirs.dir(spec.uuid) / "pid").read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert f"q35,accel={'kvm' if expected == 'kvm' else 'tcg'}" in cmdline
    assert "user,id=net0,net=10.20.0.0/24,host=10.20.0.1,dhcpstart=10.20.0.7" in cmdline
    assert block_devices(driver, spec.uuid) == {"/machine/peripheral/dev-vda/virtio-backend",
                                                 "/machine/peripheral/dev-vdb/virtio-backend"}  # fmt: skip
    for name in ("spec.json", "console.log", "qmp.sock", "vnc.sock", "pid"):
        assert (driver.dirs.dir(spec.uuid) / name).exists(), name
    assert (
        driver.console_output(spec.uuid, tail_lines=2).strip() == marker
    )  # the last piece is the empty one after the newline


def test_pause_stops_the_vcpus_and_unpause_runs_them_again(driver, tmp_path, marker_image, limits):
    spec = guest_spec(tmp_path, marker_image[0], limits)
    driver.spawn(spec)
    driver.pause(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.PAUSED
    assert driver.list_running() == [spec.uuid]
    with pytest.raises(VirtError, match="is paused, expected running"):
        driver.pause(spec.uuid)
    driver.unpause(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING


def test_hard_and_soft_reboots_boot_the_guest_again(driver, tmp_path, marker_image, limits):
    image, marker = marker_image
    spec = guest_spec(tmp_path, image, limits)
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)
    pid = driver._pid(spec.uuid)
    driver.reboot(spec.uuid, hard=True)
    wait_markers(driver, spec.uuid, marker, 2)
    assert driver._pid(spec.uuid) == pid  # a reset, not a new process
    # The marker guest has no ACPI support: the soft reboot falls back to a reset.
    driver.reboot(spec.uuid, hard=False, timeout=1)
    wait_markers(driver, spec.uuid, marker, 3)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING


def test_power_off_ends_the_process_and_power_on_boots_it_again(driver, tmp_path, marker_image, limits):
    image, marker = marker_image
    spec = guest_spec(tmp_path, image, limits)
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)
    pid = driver._pid(spec.uuid)
    driver.power_off(spec.uuid, timeout=1)
    assert driver.power_state(spec.uuid) == PowerState.SHUTDOWN
    assert driver.list_running() == []
    assert live_processes_under(driver.dirs.dir(spec.uuid)) == []
    assert not Path(f"/proc/{pid}/cmdline").exists() or Path(f"/proc/{pid}/cmdline").read_bytes() == b""
    driver.power_off(spec.uuid)  # already off: nothing to do
    driver.power_on(spec)
    wait_markers(driver, spec.uuid, marker, 2)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING


def test_suspend_saves_memory_to_a_file_and_resume_restores_it(driver, tmp_path, marker_image, limits):
    image, marker = marker_image
    spec = guest_spec(tmp_path, image, limits)
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)
    driver.suspend(spec.uuid)
    state_file = driver.dirs.dir(spec.uuid) / "memory.state"
    assert state_file.stat().st_size > 0
    assert driver.list_running() == []
    assert driver.power_state(spec.uuid) == PowerState.SUSPENDED
    with pytest.raises(VirtError, match="suspended; resume it"):
        driver.power_on(spec)
    driver.resume(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert not state_file.exists()
    # The restored guest continues where it was (halted after printing), it does not boot again.
    assert markers(driver, spec.uuid, marker) == 1


def test_a_snapshot_is_a_standalone_qcow2_that_boots(driver, tmp_path, marker_image, limits):
    image, marker = marker_image
    spec = guest_spec(tmp_path, image, limits)
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)
    snap = driver.snapshot(spec.uuid, tmp_path / "snap.qcow2")
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    details = info(snap, "qcow2", limits=limits)
    assert details.backing_file is None and details.format == "qcow2"
    clone = guest_spec(tmp_path, image, limits, disks=[DiskSpec(str(snap), "qcow2", "vda")])
    driver.spawn(clone)
    wait_markers(driver, clone.uuid, marker, 1)


def test_disks_hot_plug_into_a_running_guest_and_are_recorded_for_a_stopped_one(
    driver, tmp_path, marker_image, limits
):
    spec = guest_spec(tmp_path, marker_image[0], limits)
    driver.spawn(spec)
    volume = DiskSpec(str(create_blank(tmp_path / "volume.qcow2", size_mb=8, limits=limits)), "qcow2", "vdc")
    driver.attach_disk(spec.uuid, volume)
    assert "/machine/peripheral/dev-vdc/virtio-backend" in block_devices(driver, spec.uuid)
    assert driver.saved_spec(spec.uuid).disk("vdc") == volume
    driver.detach_disk(spec.uuid, "vdc")
    assert "/machine/peripheral/dev-vdc/virtio-backend" not in block_devices(driver, spec.uuid)
    assert driver.saved_spec(spec.uuid).disk("vdc") is None
    driver.power_off(spec.uuid, timeout=0)
    driver.attach_disk(spec.uuid, volume)
    driver.power_on(driver.saved_spec(spec.uuid))
    assert "/machine/peripheral/dev-vdc/virtio-backend" in block_devices(driver, spec.uuid)
    with pytest.raises(VirtError, match="root disk vda cannot be detached"):
        driver.detach_disk(spec.uuid, "vda")


def test_a_new_driver_finds_running_guests_but_never_adopts_a_foreign_pid(
    state_dir, driver, tmp_path, marker_image, limits
):
    spec = guest_spec(tmp_path, marker_image[0], limits)
    driver.spawn(spec)
    driver.spawn(spec)  # spawning a running guest again does not start a second process
    assert len(live_processes_under(driver.dirs.dir(spec.uuid))) == 1
    restarted = get_driver("qemu", state_dir)
    assert restarted.list_running() == [spec.uuid]
    assert restarted.power_state(spec.uuid) == PowerState.RUNNING
    other = guest_spec(tmp_path, marker_image[0], limits)
    driver.dirs.save_spec(other)
    (driver.dirs.dir(other.uuid) / "pid").write_text(str(os.getpid()))  # a live, unrelated pid
    assert restarted.list_running() == [spec.uuid]
    assert restarted.power_state(other.uuid) == PowerState.SHUTDOWN
    restarted.destroy(other.uuid)  # must not signal the test process


def test_destroy_ends_the_guest_and_removes_its_runtime_files_but_not_its_disks(
    driver, tmp_path, marker_image, limits
):
    spec = guest_spec(tmp_path, marker_image[0], limits)
    driver.spawn(spec)
    directory = driver.dirs.dir(spec.uuid)
    driver.destroy(spec.uuid)
    assert live_processes_under(directory) == []
    assert not directory.exists()
    assert driver.power_state(spec.uuid) == PowerState.NOSTATE
    assert all(Path(d.path).exists() for d in spec.disks)
    with pytest.raises(GuestNotFound):
        driver.console_output(spec.uuid)
    driver.destroy(spec.uuid)


def test_a_uefi_guest_starts_on_ovmf_with_its_own_variables_file(driver, tmp_path, marker_image, limits):
    spec = guest_spec(tmp_path, marker_image[0], limits, firmware="uefi", memory_mb=128)
    assert driver.capabilities().uefi
    driver.spawn(spec)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    vars_copy = driver.dirs.dir(spec.uuid) / "OVMF_VARS.fd"
    assert vars_copy.stat().st_size == Path(driver.ovmf_vars).stat().st_size
    pid = driver._pid(spec.uuid)
    assert str(driver.ovmf_code).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert json.loads((driver.dirs.dir(spec.uuid) / "spec.json").read_text())["firmware"] == "uefi"


def test_a_host_without_the_qemu_binary_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(VirtError, match="qemu-system-nonexistent.*is not installed"):
        QemuDriver(tmp_path, binary="qemu-system-nonexistent")
