"""Glance's hardware properties as the guest's hardware: each accepted value becomes a guest spec
field, every other value is refused naming the property and the value, and the Launch page's line
says what an image asks for."""

from __future__ import annotations

import pytest

from instances.services.hardware import PROPERTIES, UnsupportedHardware, guest_hardware, summary
from instances.virt.base import GuestSpec

UUID = "0b7e3c52-1d9a-4f0e-8a6b-2c4d5e6f7a8b"


@pytest.mark.parametrize(
    ("properties", "fields"),
    [
        ({"hw_disk_bus": "scsi"}, {"disk_bus": "scsi"}),
        ({"hw_disk_bus": "ide", "hw_machine_type": "pc"}, {"disk_bus": "ide", "machine": "pc"}),
        ({"hw_scsi_model": "virtio-scsi"}, {"scsi_model": "virtio-scsi"}),
        ({"hw_cdrom_bus": "scsi"}, {"cdrom_bus": "scsi"}),
        ({"hw_vif_model": "e1000e"}, {"nic_model": "e1000e"}),
        ({"hw_video_model": "vga"}, {"video_model": "std"}),
        ({"hw_video_model": "none"}, {"video_model": "none"}),
        ({"hw_rng_model": "virtio"}, {"rng_model": "virtio"}),
        ({"hw_qemu_guest_agent": "yes"}, {"guest_agent": True}),
        ({"hw_qemu_guest_agent": "False"}, {"guest_agent": False}),
        ({"hw_pointer_model": "usbtablet"}, {"pointer_model": "usbtablet"}),
        ({"hw_boot_menu": "true"}, {"boot_menu": True}),
        ({"hw_firmware_type": "uefi"}, {"firmware": "uefi"}),
        ({"os_type": "Windows"}, {"clock": "localtime"}),
        ({"os_type": "linux"}, {"clock": "utc"}),
        ({"hw_architecture": "x86_64", "os_distro": "debian", "hw_disk_bus": ""}, {}),
    ],
)
def test_each_accepted_value_becomes_a_guest_spec_field(properties, fields):
    assert guest_hardware(properties) == fields
    GuestSpec(UUID, "vm", 1, 64, **fields)  # and the spec takes it


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hw_disk_bus", "floppy"),
        ("hw_disk_bus", "usb"),
        ("hw_scsi_model", "lsilogic"),
        ("hw_cdrom_bus", "virtio"),
        ("hw_vif_model", "ne2k_pci"),
        ("hw_video_model", "qxl"),
        ("hw_machine_type", "pc-i440fx-2.11"),
        ("hw_rng_model", "egd"),
        ("hw_qemu_guest_agent", "maybe"),
        ("hw_pointer_model", "virtiotablet"),
        ("hw_boot_menu", "sometimes"),
        ("hw_firmware_type", "efi"),
        ("os_type", "plan9"),
    ],
)
def test_a_value_no_guest_here_can_have_is_refused_naming_the_property_and_the_value(name, value):
    with pytest.raises(UnsupportedHardware) as refused:
        guest_hardware({name: value})
    assert f"{name}={value}" in refused.value.message
    assert refused.value.status == 400


def test_ide_needs_the_pc_machine():
    for name in ("hw_disk_bus", "hw_cdrom_bus"):
        with pytest.raises(UnsupportedHardware, match=f"{name}=ide is not supported on the q35 machine"):
            guest_hardware({name: "ide"})
        guest_hardware({name: "ide", "hw_machine_type": "pc"})


def test_a_flavor_that_does_not_allow_an_rng_refuses_an_image_that_asks_for_one():
    with pytest.raises(UnsupportedHardware, match=r"hw_rng_model=virtio .* \(hw_rng:allowed=False\)"):
        guest_hardware({"hw_rng_model": "virtio"}, flavor_extra_specs={"hw_rng:allowed": "False"})
    assert guest_hardware({"hw_rng_model": "virtio"}, flavor_extra_specs={"hw_rng:allowed": "true"})
    assert guest_hardware({}, flavor_extra_specs={"hw_rng:allowed": "False"}) == {}


def test_every_property_lists_what_it_accepts():
    assert {p.name for p in PROPERTIES} >= {
        "hw_disk_bus", "hw_scsi_model", "hw_cdrom_bus", "hw_vif_model", "hw_video_model", "hw_machine_type",
        "hw_rng_model", "hw_qemu_guest_agent", "hw_pointer_model", "hw_boot_menu", "os_type",
    }  # fmt: skip
    assert all(p.choices for p in PROPERTIES)


def test_the_launch_pages_line_says_what_the_image_asks_for():
    text, problem = summary({"hw_disk_bus": "scsi", "hw_vif_model": "e1000", "hw_machine_type": "pc"})
    assert (text, problem) == ("Disk bus: scsi, NIC: e1000, machine: pc", "")
    assert summary({}) == ("Standard hardware: virtio disks and NIC, q35 machine.", "")
    iso, _ = summary({"hw_machine_type": "pc"}, "iso")
    assert iso.startswith("Boots from the ISO as a CD-ROM (ide) and installs onto a blank root disk")
    text, problem = summary({"hw_vif_model": "ne2k_pci"})
    assert text == "" and "hw_vif_model=ne2k_pci" in problem
