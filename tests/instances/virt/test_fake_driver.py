from __future__ import annotations

import pytest

from instances.virt import get_driver
from instances.virt.base import DiskSpec, PowerState, VirtError
from instances.virt.disks import info
from instances.virt.state import tail
from tests.instances.virt.conftest import guest_spec


@pytest.fixture
def driver(tmp_path):
    return get_driver("fake", tmp_path / "state")


def test_it_runs_the_whole_lifecycle_without_processes(driver, tmp_path, marker_image, limits):
    spec = guest_spec(tmp_path, marker_image[0], limits)
    driver.spawn(spec)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert driver.list_running() == [spec.uuid]
    driver.pause(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.PAUSED
    with pytest.raises(VirtError, match="is paused"):
        driver.pause(spec.uuid)
    driver.unpause(spec.uuid)
    driver.suspend(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.SUSPENDED
    assert driver.list_running() == []
    driver.resume(spec.uuid)
    driver.reboot(spec.uuid, hard=True)
    assert driver.console_output(spec.uuid).count("booted") == 2
    driver.power_off(spec.uuid)
    driver.power_off(spec.uuid)  # a second stop is harmless
    assert driver.power_state(spec.uuid) == PowerState.SHUTDOWN
    driver.power_on(spec)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    driver.destroy(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.NOSTATE
    assert driver.list_defined() == []
    driver.destroy(spec.uuid)  # destroying an unknown guest is a no-op


def test_a_new_driver_object_finds_the_guests_again(driver, tmp_path, marker_image, limits):
    spec = guest_spec(tmp_path, marker_image[0], limits)
    driver.spawn(spec)
    again = get_driver("fake", tmp_path / "state")
    assert again.list_running() == [spec.uuid]
    assert again.saved_spec(spec.uuid) == spec


def test_disks_are_recorded_in_the_saved_spec_and_snapshots_are_standalone(
    driver, tmp_path, marker_image, limits
):
    spec = guest_spec(tmp_path, marker_image[0], limits)
    driver.spawn(spec)
    vdc = DiskSpec(str(tmp_path / "volume.raw"), "raw", "vdc")
    driver.attach_disk(spec.uuid, vdc)
    assert driver.saved_spec(spec.uuid).disk("vdc") == vdc
    with pytest.raises(VirtError, match="already has a disk vdc"):
        driver.attach_disk(spec.uuid, vdc)
    driver.detach_disk(spec.uuid, "vdc")
    assert driver.saved_spec(spec.uuid).disk("vdc") is None
    snap = driver.snapshot(spec.uuid, tmp_path / "snap.qcow2")
    assert info(snap, "qcow2", limits=limits).backing_file is None


def test_capabilities_name_the_fake_hypervisor(driver):
    caps = driver.capabilities()
    assert caps.hypervisor_type == "fake"
    assert caps.vcpus >= 1 and caps.memory_mb > 0


def test_an_unknown_driver_name_is_an_error(tmp_path):
    with pytest.raises(VirtError, match="unknown virt driver 'xen'"):
        get_driver("xen", tmp_path)


def test_the_console_tail_counts_lines_as_nova_does():
    text = "one\ntwo\nthree\n"
    assert tail(text, 3) == "two\nthree\n"
    assert len(tail(text, 3).split("\n")) == 3
    assert tail(text, 10) == text and tail(text, None) == text and tail(text, 0) == ""
