"""Where a guest's devices sit on its machine, for either machine type.

q35 (the default): disks on the virtio bus get one PCIe root port per target (vda→rp0 … vdh→rp7)
so each keeps its slot across hot-plug, restart and suspend/resume; SATA disks and CD-ROMs use
the ICH9 AHCI controller built into the machine (ports ide.0 … ide.5). q35 has no IDE.

pc (i440fx): no PCIe; virtio disks sit directly on pci.0 at a slot per target (0x10 + index),
hot-plugged through ACPI; IDE devices on the PIIX3 controller's two channels of two; SATA on an
AHCI controller added at a fixed slot.

Both: the NIC, the config drive, the SCSI controller, the guest agent's serial port, the RNG and
the USB controller each have a fixed slot on the root bus (``SLOTS``), so a guest's PCI layout
never depends on what else it has. SCSI disks sit on target ``index`` of the one controller and
can be hot-plugged; AHCI and IDE ports are given out in order (disks by target, then the CD-ROM)
and take nothing while the guest runs.
"""

from __future__ import annotations

from instances.virt.base import DiskSpec, GuestSpec

TARGETS = [f"vd{c}" for c in "abcdefgh"]
ROOT_BUS = {"q35": "pcie.0", "pc": "pci.0"}
SLOTS = {"nic": 0x3, "config": 0x4, "scsi": 0x5, "serial": 0x6, "rng": 0x7, "usb": 0x8, "ahci": 0x9}
FIRST_DISK_SLOT = 0x10  # q35: the root ports; pc: the virtio disks themselves
NIC_DRIVERS = {"virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139"}
SCSI_DRIVERS = {"virtio-scsi": "virtio-scsi-pci"}
USB_CONTROLLERS = {"q35": "qemu-xhci", "pc": "piix3-usb-uhci"}
CDROM_SCSI_ID = len(TARGETS)  # after the disks' SCSI ids (their target index)
GUEST_AGENT_SOCKET = "qga.sock"  # in the instance dir, like qmp.sock
GUEST_AGENT_PORT = "org.qemu.guest_agent.0"


def root_bus(spec: GuestSpec) -> str:
    return ROOT_BUS[spec.machine]


def block_nodes(name: str, path: str, fmt: str, readonly: bool) -> list[dict]:
    """The file node and the format node QEMU reads an image through; ``fmt-<name>`` is the drive."""
    file_node = {"driver": "file", "node-name": f"file-{name}", "filename": path, "read-only": readonly}
    format_node = {"driver": fmt, "node-name": f"fmt-{name}", "file": f"file-{name}", "read-only": readonly}
    return [file_node, format_node]


def _port(spec: GuestSpec, bus: str, name: str) -> dict:
    """The AHCI or IDE port of a device (a disk target or "cdrom"), as qdev properties; GuestSpec
    has made sure that there are enough (BUS_PORTS)."""
    index = spec.devices_on(bus).index(name)
    if bus == "ide":
        return {"bus": f"ide.{index // 2}", "unit": index % 2}
    return {"bus": f"{'ide' if spec.machine == 'q35' else 'ahci0'}.{index}"}


def disk_device(spec: GuestSpec, disk: DiskSpec, bootindex: int | None) -> dict:
    """The device of a disk on the guest's disk bus. Its id derives from the target, so the same
    disk has the same names on every start (hot-unplug finds it by ``dev-<target>``)."""
    target = disk.target
    device: dict = {"id": f"dev-{target}", "drive": f"fmt-{target}"}
    index = TARGETS.index(target)
    if spec.disk_bus == "virtio":
        device["driver"] = "virtio-blk-pci"
        if spec.machine == "q35":
            device["bus"] = f"rp{index}"
        else:
            device.update(bus="pci.0", addr=f"{FIRST_DISK_SLOT + index:#x}")
    elif spec.disk_bus == "scsi":
        device.update(driver="scsi-hd", bus="scsi0.0", channel=0, **{"scsi-id": index}, lun=0)
    else:
        device.update(driver="ide-hd", **_port(spec, spec.disk_bus, target))
    if bootindex is not None:
        device["bootindex"] = bootindex
    return device


def disk_options(spec: GuestSpec, disk: DiskSpec, boot: bool) -> list[tuple[str, dict]]:
    """The blockdev nodes and the device of one disk, as option/QMP argument pairs. The root disk
    boots first, or second after the CD-ROM of a guest that boots from an ISO."""
    bootindex = (2 if spec.cdrom else 1) if boot else None
    nodes = block_nodes(disk.target, disk.path, disk.format, disk.readonly)
    return [*(("-blockdev", n) for n in nodes), ("-device", disk_device(spec, disk, bootindex))]


def cdrom_options(spec: GuestSpec) -> list[tuple[str, dict]]:
    """The ISO as a read-only CD-ROM on its bus, first in the boot order."""
    device: dict = {"id": "dev-cdrom", "drive": "fmt-cdrom", "bootindex": 1}
    if spec.cdrom_bus_used == "scsi":
        device.update(driver="scsi-cd", bus="scsi0.0", channel=0, **{"scsi-id": CDROM_SCSI_ID}, lun=0)
    else:
        device.update(driver="ide-cd", **_port(spec, spec.cdrom_bus_used, "cdrom"))
    nodes = block_nodes("cdrom", spec.cdrom, "raw", readonly=True)
    return [*(("-blockdev", n) for n in nodes), ("-device", device)]


def _on_root(spec: GuestSpec, driver: str, slot: str, **extra) -> str:
    options = [driver, *(f"{k}={v}" for k, v in extra.items())]
    options += [f"bus={root_bus(spec)}", f"addr={SLOTS[slot]:#x}"]
    return ",".join(options)


def controllers(spec: GuestSpec) -> list[str]:
    """The machine's ports and controllers the disks and CD-ROM plug into."""
    argv: list[str] = []
    if spec.machine == "q35":
        # Native PCIe hot-plug, not ACPI: a port the guest never powered on releases a device at once.
        argv += ["-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"]
        for index in range(len(TARGETS)):
            port = f"pcie-root-port,id=rp{index},chassis={index + 1}"
            argv += ["-device", f"{port},bus=pcie.0,addr={FIRST_DISK_SLOT + index:#x}"]
    if "scsi" in (spec.disk_bus, spec.cdrom_bus_used):
        # Present even before the first SCSI disk, so one can be hot-plugged later.
        argv += ["-device", _on_root(spec, SCSI_DRIVERS[spec.scsi_model], "scsi", id="scsi0")]
    if spec.machine == "pc" and "sata" in (spec.disk_bus, spec.cdrom_bus_used):
        argv += ["-device", _on_root(spec, "ich9-ahci", "ahci", id="ahci0")]
    return argv


def peripherals(spec: GuestSpec) -> list[str]:
    """Display, clock, boot menu, pointer, entropy and the guest agent's channel."""
    argv = ["-vga", spec.video_model, "-rtc", f"base={spec.clock}"]
    if spec.boot_menu:
        argv += ["-boot", "menu=on"]
    if spec.pointer_model == "usbtablet":
        argv += [
            "-device", _on_root(spec, USB_CONTROLLERS[spec.machine], "usb", id="usb"),
            "-device", "usb-tablet,id=tablet0,bus=usb.0",
        ]  # fmt: skip
    if spec.rng_model == "virtio":
        argv += [
            "-object", "rng-random,id=rng0,filename=/dev/urandom",
            "-device", _on_root(spec, "virtio-rng-pci", "rng", rng="rng0"),
        ]  # fmt: skip
    if spec.guest_agent:
        argv += [
            "-chardev", f"socket,id=qga0,path={GUEST_AGENT_SOCKET},server=on,wait=off",
            "-device", _on_root(spec, "virtio-serial-pci", "serial", id="vserial0"),
            "-device", f"virtserialport,bus=vserial0.0,nr=1,chardev=qga0,name={GUEST_AGENT_PORT}",
        ]  # fmt: skip
    return argv


def nic_device(spec: GuestSpec) -> str:
    """The NIC on net0. No option ROM: guests boot from disk or CD-ROM, not PXE."""
    assert spec.network is not None
    return _on_root(spec, NIC_DRIVERS[spec.nic_model], "nic", netdev="net0", mac=spec.network.mac, romfile="")


def config_drive_device(spec: GuestSpec) -> str:
    """The config drive: always virtio, in its own slot, so it never takes a target from the volumes."""
    return _on_root(spec, "virtio-blk-pci", "config", drive="fmt-config", id="config-drive")
