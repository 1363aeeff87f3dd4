"""The QEMU driver with other virtual hardware, against real guests (TCG): disks hot-plug where the
bus allows it (SCSI, virtio on the pc machine) and are refused where it does not (SATA), and a
guest with every optional device is suspended and resumed."""

from __future__ import annotations

import pytest

from instances.virt.base import DiskSpec, NetworkSpec, PowerState, VirtError
from instances.virt.disks import create_blank
from instances.virt.qemu import QemuDriver
from instances.virt.qmp import QMPClient
from tests.instances.virt.conftest import guest_spec
from tests.instances.virt.test_qemu_driver import wait_markers

pytestmark = pytest.mark.live


@pytest.fixture
def driver(tmp_path):
    driver = QemuDriver(tmp_path / "state", accel="tcg")
    yield driver
    for uuid in driver.list_defined():
        driver.destroy(uuid)


def peripherals(driver: QemuDriver, uuid: str) -> dict[str, str]:
    with QMPClient(driver.dirs.dir(uuid) / "qmp.sock") as qmp:
        return {i["name"]: i["type"] for i in qmp.execute("qom-list", path="/machine/peripheral")}


def volume(tmp_path, limits) -> DiskSpec:
    return DiskSpec(str(create_blank(tmp_path / "volume.qcow2", size_mb=8, limits=limits)), "qcow2", "vdc")


def test_a_scsi_disk_hot_plugs_into_a_running_guest_and_leaves_it_again(
    driver, tmp_path, marker_image, limits
):
    image, marker = marker_image
    spec = guest_spec(tmp_path, image, limits, disk_bus="scsi")
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)  # booted from a SCSI disk
    driver.attach_disk(spec.uuid, volume(tmp_path, limits))
    assert peripherals(driver, spec.uuid)["dev-vdc"] == "child<scsi-hd>"
    driver.detach_disk(spec.uuid, "vdc")
    assert "dev-vdc" not in peripherals(driver, spec.uuid)
    assert driver.saved_spec(spec.uuid).disk("vdc") is None


def test_a_virtio_disk_hot_plugs_into_a_running_pc_guest(driver, tmp_path, marker_image, limits):
    image, marker = marker_image
    spec = guest_spec(tmp_path, image, limits, machine="pc")
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)
    driver.attach_disk(spec.uuid, volume(tmp_path, limits))
    assert peripherals(driver, spec.uuid)["dev-vdc"] == "child<virtio-blk-pci>"


def test_a_running_sata_guest_takes_no_new_disk_but_a_stopped_one_does(
    driver, tmp_path, marker_image, limits
):
    image, marker = marker_image
    spec = guest_spec(tmp_path, image, limits, disk_bus="sata")
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)
    extra = volume(tmp_path, limits)
    with pytest.raises(VirtError, match="sata bus, which takes no disk while the guest runs"):
        driver.attach_disk(spec.uuid, extra)
    assert "dev-vdc" not in peripherals(driver, spec.uuid)
    driver.power_off(spec.uuid, timeout=0)
    driver.attach_disk(spec.uuid, extra)
    driver.power_on(driver.saved_spec(spec.uuid))
    assert peripherals(driver, spec.uuid)["dev-vdc"] == "child<ide-hd>"
    wait_markers(driver, spec.uuid, marker, 2)  # vda still boots first


def test_a_guest_with_every_optional_device_suspends_and_resumes(driver, tmp_path, marker_image, limits):
    image, marker = marker_image
    spec = guest_spec(
        tmp_path, image, limits, machine="pc", disk_bus="scsi", nic_model="e1000", video_model="cirrus",
        rng_model="virtio", guest_agent=True, pointer_model="usbtablet", clock="localtime",
        network=NetworkSpec("10.20.0.0/24", "10.20.0.7", "10.20.0.1", "fa:16:3e:12:34:56"),
    )  # fmt: skip
    driver.spawn(spec)
    wait_markers(driver, spec.uuid, marker, 1)
    assert driver.guest_agent_socket(spec.uuid).is_socket()
    driver.suspend(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.SUSPENDED
    driver.resume(spec.uuid)
    assert driver.power_state(spec.uuid) == PowerState.RUNNING
    assert {"tablet0", "dev-vda", "dev-vdb"} <= set(peripherals(driver, spec.uuid))
