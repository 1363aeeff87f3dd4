"""Real guests (QEMU under TCG) launched through the Compute API onto a compute host in this
process: an installer ISO boots from its CD-ROM, installs onto the blank root disk and, after a
hard reboot, the installed disk boots; and images asking for other hardware (the pc machine, SATA,
IDE or SCSI disks, e1000/e1000e/rtl8139 NICs, the guest agent's channel …) boot the marker image
on exactly that hardware."""

from __future__ import annotations

import secrets

import pytest

from flavors import services as flavor_services
from images.models import Image
from instances.compute import agent
from instances.compute.manager import ComputeManager
from instances.virt import disks
from instances.virt.qemu import QemuDriver
from instances.virt.qmp import QMPClient
from tests.instances.api.test_servers import act, launch
from tests.instances.bootimage import build_boot_image
from tests.instances.conftest import upload_image
from tests.instances.installer import (
    CHAINLOAD,
    DONE,
    START,
    build_installer_iso,
    installed_marker,
    installed_sector,
)
from tests.support.processes import require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def qemu_host(db, tmp_path, settings):
    require("qemu-system-x86_64")
    require("qemu-img")
    settings.VIRT_DRIVER = "qemu"
    state = tmp_path / "state-qemu"
    manager = ComputeManager("qemu-host", QemuDriver(state / "guests", accel="tcg"), state)
    agent.register(manager, "nova", {"vcpus": 2, "memory_mb": 2048, "disk_gb": 20})
    yield manager
    for uuid in manager.driver.list_defined():
        manager.destroy_local(uuid)


@pytest.fixture
def small(db):
    return flavor_services.create_flavor(name="t.hw", vcpus=1, ram=128, disk=1, ephemeral=1, swap=16)


def console_has(host: ComputeManager, server_id: str, text: str, count: int = 1) -> None:
    wait_for(
        lambda: host.driver.console_output(server_id, None).count(text) >= count,
        timeout=120,
        interval=0.2,
        what=f"{text!r} #{count} on the console of {server_id}",
    )


def test_an_installer_iso_installs_onto_the_blank_root_disk_which_boots_after_a_hard_reboot(
    world, stores_dir, qemu_host, small, capture, tmp_path
):
    token = secrets.token_hex(6)
    data = build_installer_iso(tmp_path / "installer.iso", token).read_bytes()
    iso = upload_image(world["home"].pk, data, name="installer", disk_format="iso")
    server_id = launch(world, qemu_host, iso, small, capture)
    root = qemu_host.disk_paths(server_id)["vda"]

    console_has(qemu_host, server_id, DONE)
    first_boot = qemu_host.driver.console_output(server_id, None)
    assert installed_marker(token) not in first_boot and CHAINLOAD not in first_boot

    act(world, qemu_host, server_id, {"reboot": {"type": "HARD"}}, capture)
    console_has(qemu_host, server_id, installed_marker(token))
    log = qemu_host.driver.console_output(server_id, None)
    # The CD-ROM booted first both times; the second time it found the installed system and
    # handed over to it.
    assert log.count(START) == 2 and log.count(DONE) == 1 and log.count(CHAINLOAD) == 1
    assert log.index(DONE) < log.index(CHAINLOAD) < log.index(installed_marker(token))
    # What boots is really on vda, the blank disk the installer wrote to.
    copy = disks.convert(root, "qcow2", tmp_path / "vda.raw", "raw", in_use=True)
    with open(copy, "rb") as fh:
        assert fh.read(512) == installed_sector(token)
    assert disks.info(root, "qcow2", in_use=True).backing_file is None

    # A snapshot of the installed vda is an ordinary image that boots without the ISO.
    response = act(
        world, qemu_host, server_id, {"createImage": {"name": "installed"}}, capture, version="2.45"
    )
    snapshot = Image.objects.get(pk=response.json()["image_id"])
    assert (snapshot.status, snapshot.disk_format) == ("active", "qcow2")
    again = launch(world, qemu_host, snapshot, small, capture)
    console_has(qemu_host, again, installed_marker(token))
    assert START not in qemu_host.driver.console_output(again, None)
    assert qemu_host.driver.saved_spec(again).cdrom == ""


def _pci_ids(devices: list[dict]) -> set[tuple[int, int]]:
    found = set()
    for device in devices:
        found.add((device["id"]["vendor"], device["id"]["device"]))
        found |= _pci_ids((device.get("pci_bridge") or {}).get("devices") or [])
    return found


def hardware_of(host: ComputeManager, server_id: str) -> tuple[str, dict[str, str], set[tuple[int, int]]]:
    """The running machine's type, its named devices' types, and the PCI ids on its buses."""
    with QMPClient(host.driver.dirs.dir(server_id) / "qmp.sock") as qmp:
        machine = qmp.execute("qom-get", path="/machine", property="type")
        named = {i["name"]: i["type"] for i in qmp.execute("qom-list", path="/machine/peripheral")}
        pci = {ids for bus in qmp.execute("query-pci") for ids in _pci_ids(bus["devices"])}
    return machine, named, pci


E1000, E1000E, RTL8139 = (0x8086, 0x100E), (0x8086, 0x10D3), (0x10EC, 0x8139)
AHCI, VIRTIO_SCSI, VIRTIO_RNG, VIRTIO_SERIAL = (
    (0x8086, 0x2922),
    (0x1AF4, 0x1004),
    (0x1AF4, 0x1005),
    (0x1AF4, 0x1003),
)


PC_SATA = {"hw_machine_type": "pc", "hw_disk_bus": "sata", "hw_vif_model": "e1000"}
PC_IDE = {
    "hw_machine_type": "pc",
    "hw_disk_bus": "ide",
    "hw_vif_model": "rtl8139",
    "hw_video_model": "cirrus",
}
Q35_SCSI = {
    "hw_disk_bus": "scsi",
    "hw_vif_model": "e1000e",
    "hw_rng_model": "virtio",
    "hw_qemu_guest_agent": "yes",
    "hw_pointer_model": "usbtablet",
    "hw_video_model": "virtio",
    "os_type": "windows",
}


@pytest.mark.parametrize(
    ("properties", "machine", "disk_device", "expected_pci"),
    [
        (PC_SATA, "pc-i440fx", "ide-hd", {E1000, AHCI}),
        (PC_IDE, "pc-i440fx", "ide-hd", {RTL8139}),
        (Q35_SCSI, "pc-q35", "scsi-hd", {E1000E, VIRTIO_SCSI, VIRTIO_RNG, VIRTIO_SERIAL}),
    ],
    ids=["pc-sata-e1000", "pc-ide-rtl8139", "q35-scsi-e1000e-agent-rng-tablet"],
)
def test_an_image_asking_for_other_hardware_boots_the_marker_image_on_it(
    world, stores_dir, qemu_host, small, capture, tmp_path, properties, machine, disk_device, expected_pci
):
    marker = f"STRATUS-MARKER hw {secrets.token_hex(4)}"
    data = build_boot_image(tmp_path / "marker.raw", marker).read_bytes()
    image = upload_image(world["home"].pk, data, name="hw", properties=properties)
    server_id = launch(world, qemu_host, image, small, capture)
    console_has(qemu_host, server_id, marker)
    running, named, pci = hardware_of(qemu_host, server_id)
    assert running.startswith(machine), running
    # Root, ephemeral and swap disk, all on the image's bus.
    assert [named[f"dev-{t}"] for t in ("vda", "vdb", "vdh")] == [f"child<{disk_device}>"] * 3
    assert expected_pci <= pci, sorted(pci)
    if properties.get("hw_qemu_guest_agent") == "yes":
        assert qemu_host.driver.guest_agent_socket(server_id).is_socket()
        assert named["tablet0"] == "child<usb-tablet>"
    # A hard reboot boots the same machine again.
    act(world, qemu_host, server_id, {"reboot": {"type": "HARD"}}, capture)
    console_has(qemu_host, server_id, marker, 2)
