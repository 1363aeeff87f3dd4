"""The QEMU command line of a guest's virtual hardware (Glance's hw_* properties as GuestSpec
fields): the machine, the bus of its disks and CD-ROM, its NIC, display, entropy, guest agent
channel, pointer, boot menu and clock; and a spec saved before these fields existed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instances.virt.argv import qemu_argv
from instances.virt.base import DiskSpec, GuestSpec, NetworkSpec, VirtError
from instances.virt.devices import disk_options

UUID = "0b7e3c52-1d9a-4f0e-8a6b-2c4d5e6f7a8b"
ROOT, EPH, SWAP = (DiskSpec(f"/i/{name}", "qcow2", target) for name, target in
                   (("disk", "vda"), ("disk.eph0", "vdb"), ("disk.swap", "vdh")))  # fmt: skip
NET = NetworkSpec("10.20.0.0/24", "10.20.0.12", "10.20.0.1", "fa:16:3e:00:00:0c")


def spec(**fields) -> GuestSpec:
    values = {"disks": [ROOT, EPH, SWAP], "network": NET, **fields}
    return GuestSpec(UUID, "vm", 1, 64, **values)


def argv_of(guest: GuestSpec) -> list[str]:
    return qemu_argv(guest, binary="qemu", accel="tcg", pidfile=Path("pid"), ovmf_code=None, incoming=False)


def values(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]


def devices(argv: list[str]) -> list[dict]:
    """Every -device, as a dict whether written as JSON or as driver,key=value,…"""
    found = []
    for value in values(argv, "-device"):
        if value.startswith("{"):
            found.append(json.loads(value))
        else:
            driver, *pairs = value.split(",")
            found.append({"driver": driver, **dict(p.split("=", 1) for p in pairs)})
    return found


def device(argv: list[str], **match) -> dict:
    (found,) = [d for d in devices(argv) if all(str(d.get(k)) == str(v) for k, v in match.items())]
    return found


def drivers(argv: list[str]) -> list[str]:
    return [d["driver"] for d in devices(argv)]


# --- machine -----------------------------------------------------------------------------------


def test_q35_is_the_default_with_a_pcie_root_port_per_disk_target():
    argv = argv_of(spec())
    assert values(argv, "-machine") == ["q35,accel=tcg"]
    assert drivers(argv).count("pcie-root-port") == 8
    assert "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off" in values(argv, "-global")
    assert device(argv, id="dev-vda") == {
        "driver": "virtio-blk-pci", "id": "dev-vda", "drive": "fmt-vda", "bus": "rp0", "bootindex": 1,
    }  # fmt: skip
    assert device(argv, id="dev-vdh")["bus"] == "rp7"
    assert device(argv, driver="virtio-net-pci")["bus"] == "pcie.0"


def test_hw_machine_type_pc_is_an_i440fx_with_virtio_disks_on_pci_0():
    argv = argv_of(spec(machine="pc"))
    assert values(argv, "-machine") == ["pc,accel=tcg"]
    assert "pcie-root-port" not in drivers(argv)
    assert values(argv, "-global") == []  # the ICH9 switch belongs to q35 alone
    assert device(argv, id="dev-vda") == {
        "driver": "virtio-blk-pci", "id": "dev-vda", "drive": "fmt-vda", "bus": "pci.0", "addr": "0x10",
        "bootindex": 1,
    }  # fmt: skip
    assert device(argv, id="dev-vdh")["addr"] == "0x17"
    nic = device(argv, driver="virtio-net-pci")
    assert (nic["bus"], nic["addr"]) == ("pci.0", "0x3")


def test_a_uefi_guest_keeps_its_firmware_flash_on_either_machine():
    for machine in ("q35", "pc"):
        guest = spec(machine=machine, firmware="uefi")
        argv = qemu_argv(
            guest, binary="qemu", accel="tcg", pidfile=Path("pid"), ovmf_code=Path("/ovmf"), incoming=False
        )
        assert values(argv, "-machine") == [f"{machine},accel=tcg,pflash0=fw-code,pflash1=fw-vars"]


def test_an_unknown_machine_type_is_refused():
    with pytest.raises(VirtError, match="machine type 'isapc'"):
        spec(machine="isapc")


# --- disk bus ----------------------------------------------------------------------------------


def test_hw_disk_bus_scsi_puts_every_disk_on_one_virtio_scsi_controller_by_target():
    argv = argv_of(spec(disk_bus="scsi"))
    assert device(argv, driver="virtio-scsi-pci") == {
        "driver": "virtio-scsi-pci", "id": "scsi0", "bus": "pcie.0", "addr": "0x5",
    }  # fmt: skip
    assert device(argv, id="dev-vda") == {
        "driver": "scsi-hd", "id": "dev-vda", "drive": "fmt-vda", "bus": "scsi0.0", "channel": 0,
        "scsi-id": 0, "lun": 0, "bootindex": 1,
    }  # fmt: skip
    assert device(argv, id="dev-vdh")["scsi-id"] == 7
    assert "virtio-blk-pci" not in drivers(argv)


def test_a_scsi_disk_hot_plugged_later_gets_its_targets_scsi_id():
    guest = spec(disk_bus="scsi")
    volume = DiskSpec("/v/volume", "raw", "vdc")
    options = disk_options(guest, volume, boot=False)
    assert [o for o, _ in options] == ["-blockdev", "-blockdev", "-device"]
    assert options[2][1] == {"driver": "scsi-hd", "id": "dev-vdc", "drive": "fmt-vdc", "bus": "scsi0.0",
                             "channel": 0, "scsi-id": 2, "lun": 0}  # fmt: skip
    guest.check_hotplug()  # SCSI and virtio take disks while the guest runs


def test_hw_disk_bus_sata_on_q35_uses_its_built_in_ahci_ports_in_target_order():
    argv = argv_of(spec(disk_bus="sata"))
    ports = [(d["id"], d["bus"]) for d in devices(argv) if d["driver"] == "ide-hd"]
    assert ports == [("dev-vda", "ide.0"), ("dev-vdb", "ide.1"), ("dev-vdh", "ide.2")]
    assert device(argv, id="dev-vda")["bootindex"] == 1
    assert "ich9-ahci" not in drivers(argv)  # q35 has one built in


def test_hw_disk_bus_sata_on_pc_adds_an_ahci_controller():
    argv = argv_of(spec(disk_bus="sata", machine="pc"))
    assert device(argv, driver="ich9-ahci") == {
        "driver": "ich9-ahci",
        "id": "ahci0",
        "bus": "pci.0",
        "addr": "0x9",
    }
    assert device(argv, id="dev-vdb")["bus"] == "ahci0.1"


def test_hw_disk_bus_ide_on_pc_fills_two_channels_of_two():
    argv = argv_of(spec(disk_bus="ide", machine="pc"))
    ports = [(d["id"], d["bus"], d["unit"]) for d in devices(argv) if d["driver"] == "ide-hd"]
    assert ports == [("dev-vda", "ide.0", 0), ("dev-vdb", "ide.0", 1), ("dev-vdh", "ide.1", 0)]


def test_ide_on_q35_and_more_disks_than_a_bus_has_ports_are_refused():
    with pytest.raises(VirtError, match="q35 machine has no IDE controller"):
        spec(disk_bus="ide")
    five = [DiskSpec(f"/i/{t}", "qcow2", t) for t in ("vda", "vdb", "vdc", "vdd", "vde")]
    with pytest.raises(VirtError, match="the ide bus has room for 4 devices; this guest needs 5"):
        spec(disk_bus="ide", machine="pc", disks=five)


def test_sata_and_ide_disks_cannot_be_hot_plugged():
    for bus, machine in (("sata", "q35"), ("ide", "pc")):
        with pytest.raises(VirtError, match=f"on the {bus} bus, which takes no disk while the guest runs"):
            spec(disk_bus=bus, machine=machine).check_hotplug()


# --- CD-ROM (boot from an ISO) -----------------------------------------------------------------


def test_an_iso_is_a_read_only_cd_rom_booted_before_the_blank_root_disk():
    argv = argv_of(spec(cdrom="/cache/iso.base"))
    nodes = [json.loads(v) for v in values(argv, "-blockdev")]
    assert {
        "driver": "file",
        "node-name": "file-cdrom",
        "filename": "/cache/iso.base",
        "read-only": True,
    } in nodes
    assert {"driver": "raw", "node-name": "fmt-cdrom", "file": "file-cdrom", "read-only": True} in nodes
    # q35's default CD-ROM bus is SATA, on the port after the disks'.
    assert device(argv, id="dev-cdrom") == {
        "driver": "ide-cd", "id": "dev-cdrom", "drive": "fmt-cdrom", "bootindex": 1, "bus": "ide.0",
    }  # fmt: skip
    assert device(argv, id="dev-vda")["bootindex"] == 2
    assert "bootindex" not in device(argv, id="dev-vdb")
    # Without an ISO there is no CD-ROM, and vda boots first.
    assert not [d for d in devices(argv_of(spec())) if d["driver"] == "ide-cd"]


def test_the_cd_rom_follows_hw_cdrom_bus_and_the_machines_default():
    pc = argv_of(spec(machine="pc", cdrom="/cache/iso.base"))
    assert (device(pc, id="dev-cdrom")["bus"], device(pc, id="dev-cdrom")["unit"]) == ("ide.0", 0)
    scsi = argv_of(spec(cdrom="/cache/iso.base", cdrom_bus="scsi"))
    assert device(scsi, id="dev-cdrom") == {
        "driver": "scsi-cd", "id": "dev-cdrom", "drive": "fmt-cdrom", "bootindex": 1, "bus": "scsi0.0",
        "channel": 0, "scsi-id": 8, "lun": 0,
    }  # fmt: skip
    assert device(scsi, driver="virtio-scsi-pci")["id"] == "scsi0"
    assert device(scsi, id="dev-vda")["driver"] == "virtio-blk-pci"  # the disks keep their own bus
    shared = argv_of(spec(disk_bus="sata", cdrom="/cache/iso.base"))
    assert [d["bus"] for d in devices(shared) if d["driver"] in ("ide-hd", "ide-cd")] == [
        "ide.0", "ide.1", "ide.2", "ide.3",
    ]  # fmt: skip
    assert device(shared, id="dev-cdrom")["bus"] == "ide.3"


def test_an_ide_cd_rom_on_q35_and_a_relative_iso_path_are_refused():
    with pytest.raises(VirtError, match="no IDE controller"):
        spec(cdrom="/cache/iso.base", cdrom_bus="ide")
    with pytest.raises(VirtError, match="must be absolute"):
        spec(cdrom="iso.base")
    with pytest.raises(VirtError, match="CD-ROM bus 'virtio'"):
        spec(cdrom="/cache/iso.base", cdrom_bus="virtio")


# --- NIC, display, entropy, guest agent, pointer, boot menu, clock -----------------------------


@pytest.mark.parametrize(
    "model,driver",
    [("virtio", "virtio-net-pci"), ("e1000", "e1000"), ("e1000e", "e1000e"), ("rtl8139", "rtl8139")],
)
def test_hw_vif_model_picks_the_nic_device(model, driver):
    argv = argv_of(spec(nic_model=model))
    nic = device(argv, netdev="net0")
    assert nic == {"driver": driver, "netdev": "net0", "mac": "fa:16:3e:00:00:0c", "romfile": "",
                   "bus": "pcie.0", "addr": "0x3"}  # fmt: skip


def test_an_unknown_nic_model_is_refused():
    with pytest.raises(VirtError, match="NIC model 'ne2k_pci'"):
        spec(nic_model="ne2k_pci")


@pytest.mark.parametrize("model", ["std", "virtio", "cirrus", "none"])
def test_hw_video_model_picks_the_display(model):
    assert values(argv_of(spec(video_model=model)), "-vga") == [model]


def test_hw_rng_model_virtio_feeds_a_virtio_rng_from_the_hosts_urandom():
    argv = argv_of(spec(rng_model="virtio"))
    assert values(argv, "-object") == ["rng-random,id=rng0,filename=/dev/urandom"]
    assert device(argv, driver="virtio-rng-pci") == {
        "driver": "virtio-rng-pci", "rng": "rng0", "bus": "pcie.0", "addr": "0x7",
    }  # fmt: skip
    assert "virtio-rng-pci" not in drivers(argv_of(spec()))


def test_hw_qemu_guest_agent_adds_the_agents_virtio_serial_port_on_a_socket_in_the_instance_dir():
    argv = argv_of(spec(guest_agent=True))
    assert "socket,id=qga0,path=qga.sock,server=on,wait=off" in values(argv, "-chardev")
    assert device(argv, driver="virtio-serial-pci")["id"] == "vserial0"
    assert device(argv, driver="virtserialport") == {
        "driver": "virtserialport", "bus": "vserial0.0", "nr": "1", "chardev": "qga0",
        "name": "org.qemu.guest_agent.0",
    }  # fmt: skip
    plain = argv_of(spec())
    assert "virtserialport" not in drivers(plain) and not any("qga" in v for v in values(plain, "-chardev"))


def test_hw_pointer_model_usbtablet_adds_a_usb_controller_and_a_tablet():
    for machine, controller in (("q35", "qemu-xhci"), ("pc", "piix3-usb-uhci")):
        argv = argv_of(spec(machine=machine, pointer_model="usbtablet"))
        assert device(argv, driver=controller)["id"] == "usb"
        assert device(argv, driver="usb-tablet")["bus"] == "usb.0"
    assert "usb-tablet" not in drivers(argv_of(spec(pointer_model="ps2mouse")))


def test_hw_boot_menu_turns_the_firmwares_boot_menu_on():
    assert values(argv_of(spec(boot_menu=True)), "-boot") == ["menu=on"]
    assert values(argv_of(spec()), "-boot") == []


def test_a_windows_guest_keeps_its_clock_in_local_time():
    assert values(argv_of(spec(clock="localtime")), "-rtc") == ["base=localtime"]
    assert values(argv_of(spec()), "-rtc") == ["base=utc"]


# --- saved specs -------------------------------------------------------------------------------


def test_a_saved_spec_from_before_hardware_fields_loads_into_the_same_machine():
    new_fields = ("machine", "disk_bus", "scsi_model", "cdrom", "cdrom_bus", "nic_model", "video_model",
                  "rng_model", "guest_agent", "pointer_model", "boot_menu", "clock")  # fmt: skip
    old = spec().to_dict()
    for key in new_fields:
        del old[key]
    loaded = GuestSpec.from_dict(old)
    assert loaded == spec()
    argv = argv_of(loaded)
    assert values(argv, "-machine") == ["q35,accel=tcg"] and values(argv, "-vga") == ["std"]
    assert device(argv, id="dev-vda")["driver"] == "virtio-blk-pci"
    assert device(argv, netdev="net0")["driver"] == "virtio-net-pci"
    assert not {"virtio-scsi-pci", "ide-cd", "usb-tablet", "virtio-rng-pci", "virtserialport"} & set(
        drivers(argv)
    )


def test_a_spec_with_hardware_survives_a_round_trip_through_its_saved_form():
    guest = spec(machine="pc", disk_bus="sata", cdrom="/c/iso", nic_model="e1000", video_model="cirrus",
                 rng_model="virtio", guest_agent=True, pointer_model="usbtablet", boot_menu=True,
                 clock="localtime")  # fmt: skip
    assert GuestSpec.from_dict(json.loads(json.dumps(guest.to_dict()))) == guest
