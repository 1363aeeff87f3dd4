"""The one interface between the compute agent and a hypervisor.

A guest is described by a frozen ``GuestSpec``; a driver turns specs into running guests and
acts on them by instance uuid. Drivers keep everything they need in a per-instance state dir, so
a new driver object (an agent restart) finds its guests again. Every failure is a ``VirtError``.

Disk ownership: the caller (the agent, with ``instances.virt.disks``) creates and deletes the
disk files. ``destroy`` stops the guest and removes only the driver's runtime files (spec,
console log, sockets, pid, firmware variables, saved memory state), never the disks.
"""

from __future__ import annotations

import abc
import enum
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TARGET_RE = re.compile(r"^vd[a-h]$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
DISK_FORMATS = ("raw", "qcow2")
# Image formats a guest does not run on directly: the host's image cache converts them once to
# qcow2. Glance's disk_format (also the format inspector's name) → QEMU's block driver.
SOURCE_FORMATS = {"vmdk": "vmdk", "vhd": "vpc", "vhdx": "vhdx", "vdi": "vdi"}

# The virtual hardware a guest can have (see devices.py for where each piece sits).
MACHINES = ("q35", "pc")
DISK_BUSES = ("virtio", "scsi", "sata", "ide")
CDROM_BUSES = ("sata", "ide", "scsi")  # virtio-blk has no removable media
HOTPLUG_BUSES = ("virtio", "scsi")  # AHCI and IDE ports take no device while the guest runs
SCSI_MODELS = ("virtio-scsi",)
NIC_MODELS = ("virtio", "e1000", "e1000e", "rtl8139")
VIDEO_MODELS = ("std", "virtio", "cirrus", "none")
RNG_MODELS = ("", "virtio")
POINTER_MODELS = ("ps2mouse", "usbtablet")
CLOCKS = ("utc", "localtime")
# Devices each bus has room for: q35's built-in AHCI (or the one added to pc) has six ports, the
# pc's IDE controller two channels of two.
BUS_PORTS = {"sata": 6, "ide": 4}


class VirtError(Exception):
    """Anything the hypervisor layer could not do; the message is meant for the operator."""


class GuestNotFound(VirtError):
    """The driver knows no guest with this uuid."""


class PowerState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"
    SUSPENDED = "suspended"
    CRASHED = "crashed"
    NOSTATE = "nostate"


def default_cdrom_bus(machine: str) -> str:
    """Where a CD-ROM goes unless the image says otherwise: the pc's IDE, q35's SATA (q35 has no
    IDE controller), as Nova's libvirt driver chooses."""
    return "ide" if machine == "pc" else "sata"


def _choose(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        shown = ", ".join(a or "none" for a in allowed)
        raise VirtError(f"{what} {value!r} must be one of {shown}")


@dataclass(frozen=True)
class DiskSpec:
    path: str
    format: str
    target: str  # vda, vdb, … ; also names the device and its PCIe slot, so it stays stable
    readonly: bool = False

    def __post_init__(self) -> None:
        if not TARGET_RE.match(self.target):
            raise VirtError(f"disk target {self.target!r} must be one of vda…vdh")
        if self.format not in DISK_FORMATS:
            raise VirtError(f"disk format {self.format!r} must be one of {', '.join(DISK_FORMATS)}")
        if not Path(self.path).is_absolute():
            raise VirtError(f"disk path {self.path!r} must be absolute")


@dataclass(frozen=True)
class NetworkSpec:
    """One NIC. With ``tap``, the NIC is that tap device on the network's bridge on the host, and the
    host's DHCP server hands the guest ``address`` (see hostnet.py); without it, QEMU user networking,
    whose DHCP lease is exactly ``address``, and which nothing outside the guest can reach."""

    cidr: str
    address: str
    gateway: str
    mac: str
    dhcp_start: str = ""  # user networking: defaults to ``address``, so the only lease is the instance's
    tap: str = ""

    def __post_init__(self) -> None:
        try:
            net = ipaddress.ip_network(self.cidr, strict=True)
            members = [ipaddress.ip_address(a) for a in (self.address, self.gateway, self.lease_start)]
        except ValueError as exc:
            raise VirtError(f"invalid network spec: {exc}") from exc
        if net.version != 4 or any(a not in net for a in members):
            raise VirtError(f"address, gateway and DHCP start must lie in the IPv4 network {self.cidr}")
        if self.address == self.gateway:
            raise VirtError("the instance address must differ from the gateway")
        if not MAC_RE.match(self.mac):
            raise VirtError(f"MAC address {self.mac!r} must be lower-case xx:xx:xx:xx:xx:xx")
        if self.tap and not re.match(r"^[a-zA-Z0-9_-]{1,15}$", self.tap):
            raise VirtError(f"tap device name {self.tap!r} must be 1-15 letters, digits, - or _")

    @property
    def lease_start(self) -> str:
        return self.dhcp_start or self.address


@dataclass(frozen=True)
class GuestSpec:
    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    disks: tuple[DiskSpec, ...] = ()
    network: NetworkSpec | None = None
    arch: str = "x86_64"
    firmware: str = "bios"  # "uefi" when the image says hw_firmware_type=uefi
    # Direct kernel boot (Glance's AKI/ARI images): the firmware loads these instead of vda's boot
    # sector; vda is still attached as the root disk.
    kernel: str = ""
    ramdisk: str = ""
    cmdline: str = ""
    # The config drive (configdrive.py), attached read-only; cloud-init finds it by its label.
    config_drive: str = ""
    # Virtual hardware (Glance's hw_* image properties). The defaults are what every guest had
    # before these fields existed, so a spec saved then loads into the same machine.
    machine: str = "q35"
    disk_bus: str = "virtio"  # every disk in ``disks``; the config drive stays virtio
    scsi_model: str = "virtio-scsi"
    # Boot from an ISO: the image read-only as a CD-ROM, first in the boot order, before vda.
    cdrom: str = ""
    cdrom_bus: str = ""  # "" is the machine's default (default_cdrom_bus)
    nic_model: str = "virtio"
    video_model: str = "std"
    rng_model: str = ""
    guest_agent: bool = False  # a virtio-serial port org.qemu.guest_agent.0 on qga.sock
    pointer_model: str = "ps2mouse"
    boot_menu: bool = False
    clock: str = "utc"  # "localtime" for Windows guests

    def __post_init__(self) -> None:
        if not re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", self.uuid):
            raise VirtError(f"guest uuid {self.uuid!r} is not a lower-case UUID")
        if self.vcpus < 1 or self.memory_mb < 16:
            raise VirtError("a guest needs at least 1 vCPU and 16 MiB of memory")
        if self.firmware not in ("bios", "uefi"):
            raise VirtError(f"firmware {self.firmware!r} must be bios or uefi")
        if not re.match(r"^[a-z0-9_]+$", self.arch):
            raise VirtError(f"invalid architecture {self.arch!r}")
        for path in (self.kernel, self.ramdisk, self.config_drive, self.cdrom):
            if path and not Path(path).is_absolute():
                raise VirtError(
                    f"kernel, ramdisk, config drive and CD-ROM paths must be absolute, not {path!r}"
                )
        if (self.ramdisk or self.cmdline) and not self.kernel:
            raise VirtError("a ramdisk or a kernel command line needs a kernel")
        # Lists are accepted for convenience but stored as a tuple, so the spec stays hashable.
        object.__setattr__(self, "disks", tuple(self.disks))
        targets = [d.target for d in self.disks]
        if len(set(targets)) != len(targets):
            raise VirtError(f"duplicate disk targets in {targets}")
        self._check_hardware()

    def _check_hardware(self) -> None:
        _choose("machine type", self.machine, MACHINES)
        _choose("disk bus", self.disk_bus, DISK_BUSES)
        _choose("CD-ROM bus", self.cdrom_bus, ("", *CDROM_BUSES))
        _choose("SCSI model", self.scsi_model, SCSI_MODELS)
        _choose("NIC model", self.nic_model, NIC_MODELS)
        _choose("video model", self.video_model, VIDEO_MODELS)
        _choose("RNG model", self.rng_model, RNG_MODELS)
        _choose("pointer model", self.pointer_model, POINTER_MODELS)
        _choose("clock", self.clock, CLOCKS)
        if "ide" in (self.disk_bus, self.cdrom_bus_used) and self.machine != "pc":
            raise VirtError(f"the {self.machine} machine has no IDE controller; IDE needs the pc machine")
        for bus, ports in BUS_PORTS.items():
            wanted = len(self.devices_on(bus))
            if wanted > ports:
                raise VirtError(f"the {bus} bus has room for {ports} devices; this guest needs {wanted}")

    def check_hotplug(self) -> None:
        """Refuse to add or remove a disk while the guest runs when its disk bus cannot do that."""
        if self.disk_bus not in HOTPLUG_BUSES:
            raise VirtError(
                f"guest {self.uuid} has its disks on the {self.disk_bus} bus, which takes no disk while "
                "the guest runs; stop it to attach or detach a disk"
            )

    @property
    def cdrom_bus_used(self) -> str:
        return (self.cdrom_bus or default_cdrom_bus(self.machine)) if self.cdrom else ""

    def devices_on(self, bus: str) -> list[str]:
        """The disk targets (in target order), then "cdrom", that sit on ``bus``."""
        found = [d.target for d in sorted(self.disks, key=lambda d: d.target)] if bus == self.disk_bus else []
        return [*found, "cdrom"] if self.cdrom_bus_used == bus else found

    def disk(self, target: str) -> DiskSpec | None:
        return next((d for d in self.disks if d.target == target), None)

    def with_disks(self, disks: list[DiskSpec] | tuple[DiskSpec, ...]) -> GuestSpec:
        data = self.to_dict()
        data["disks"] = [asdict(d) for d in sorted(disks, key=lambda d: d.target)]
        return GuestSpec.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuestSpec:
        data = dict(data)
        data["disks"] = tuple(DiskSpec(**d) for d in data.get("disks", ()))
        if data.get("network"):
            data["network"] = NetworkSpec(**data["network"])
        return cls(**data)


@dataclass(frozen=True)
class IncomingEndpoint:
    """Where a prepared destination waits: its NBD server (one export per disk target, named by
    the target) and its migration listener. Plain data, so it can travel in a task's arguments."""

    address: str
    nbd_port: int
    migration_port: int
    exports: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exports": list(self.exports)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IncomingEndpoint:
        return cls(
            address=str(data["address"]),
            nbd_port=int(data["nbd_port"]),
            migration_port=int(data["migration_port"]),
            exports=tuple(data["exports"]),
        )


@dataclass(frozen=True)
class Capabilities:
    hypervisor_type: str  # "kvm", "qemu" (TCG) or "fake"
    arch: str
    uefi: bool
    vcpus: int
    memory_mb: int
    disk_gb: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class VirtDriver(abc.ABC):
    """What the compute agent calls. Methods are idempotent where that is meaningful:
    spawning a running guest, powering off a stopped one or destroying an unknown one is a no-op,
    so a task that runs twice does no harm."""

    name: str

    @abc.abstractmethod
    def spawn(self, spec: GuestSpec) -> None:
        """Define the guest (state dir, saved spec) and start it; disks must exist."""

    @abc.abstractmethod
    def destroy(self, uuid: str) -> None:
        """Stop the guest however it is and remove its runtime files (not its disks)."""

    @abc.abstractmethod
    def power_off(self, uuid: str, timeout: float = 60.0) -> None:
        """ACPI power-down, wait up to ``timeout`` seconds for the guest to stop, then force it."""

    @abc.abstractmethod
    def power_on(self, spec: GuestSpec) -> None:
        """Start a stopped guest; ``spec`` replaces the saved one (the caller owns the truth)."""

    @abc.abstractmethod
    def reboot(self, uuid: str, hard: bool = False, timeout: float = 60.0) -> None:
        """Hard: reset now. Soft: clean power-down and start again; a guest that ignores the
        request for ``timeout`` seconds is reset (as Nova falls back to a hard reboot)."""

    @abc.abstractmethod
    def pause(self, uuid: str) -> None: ...

    @abc.abstractmethod
    def unpause(self, uuid: str) -> None: ...

    @abc.abstractmethod
    def suspend(self, uuid: str) -> None:
        """Save the guest's memory to a file in its state dir and stop the process."""

    @abc.abstractmethod
    def resume(self, uuid: str) -> None:
        """Start the guest again from its saved memory state."""

    @abc.abstractmethod
    def snapshot(self, uuid: str, target_path: str | Path) -> Path:
        """Write a consistent standalone qcow2 of the root disk (vda); the guest keeps its state."""

    @abc.abstractmethod
    def console_output(self, uuid: str, tail_lines: int | None = None) -> str: ...

    @abc.abstractmethod
    def console_log(self, uuid: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        """The whole serial console log, ``chunk_size`` bytes at a time; GuestNotFound if no guest."""

    @abc.abstractmethod
    def attach_disk(self, uuid: str, disk: DiskSpec) -> None:
        """Hot-plug on a running guest; on a stopped one, record it for the next start."""

    @abc.abstractmethod
    def detach_disk(self, uuid: str, target: str) -> None: ...

    @abc.abstractmethod
    def power_state(self, uuid: str) -> PowerState:
        """The guest's state; NOSTATE when the driver knows no guest with this uuid."""

    @abc.abstractmethod
    def list_running(self) -> list[str]:
        """Uuids of guests with a live process (running or paused)."""

    @abc.abstractmethod
    def list_defined(self) -> list[str]:
        """Uuids of all guests that have a state dir, whatever their power state."""

    @abc.abstractmethod
    def saved_spec(self, uuid: str) -> GuestSpec:
        """The spec the guest was last started with (with attached disks); GuestNotFound if none."""

    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    # Live migration (see live_migration.py for the QEMU driver's way). A driver without it says so.

    def prepare_incoming(
        self, spec: GuestSpec, address: str, shared: tuple[str, ...] = ()
    ) -> IncomingEndpoint:
        """Destination: start the guest waiting for its memory and disks, listening on ``address``;
        the disks named in ``shared`` are on storage both hosts reach and are not copied."""
        raise VirtError(f"the {self.name} driver cannot live-migrate guests")

    def migrate_to(
        self, uuid: str, endpoint: IncomingEndpoint, timeout: float = 600.0, shared: tuple[str, ...] = ()
    ) -> dict:
        """Source: copy the disks and the memory to ``endpoint``; returns with the source paused and
        the destination complete, with the driver's figures of the copy (may be empty); on failure
        the source runs as before (VirtError)."""
        raise VirtError(f"the {self.name} driver cannot live-migrate guests")

    def finish_incoming(self, uuid: str, running: bool = True, console_before: str = "") -> None:
        """Destination: the copy is over, the guest runs here (or stays paused if it was); its
        console log starts with ``console_before`` (the end of the source's)."""
        raise VirtError(f"the {self.name} driver cannot live-migrate guests")

    def has_left(self, uuid: str) -> bool:
        """Source: True once the guest's copy is complete elsewhere (this one stays paused)."""
        raise VirtError(f"the {self.name} driver cannot live-migrate guests")

    def resume_source(self, uuid: str) -> None:
        """Source: the destination failed after the memory copy; the guest runs here again."""
        raise VirtError(f"the {self.name} driver cannot live-migrate guests")

    def vnc_socket_dir(self) -> Path | None:
        """The dir holding ``<uuid>/vnc.sock`` of each guest (see vnc.socket_path); None for a
        driver whose guests have no screen."""
        return None
