"""QEMU command lines and device definitions of guests (see qemu.py for the machine layout)."""

from __future__ import annotations

import json
from pathlib import Path

from instances.virt.base import DiskSpec, GuestSpec

TARGETS = [f"vd{c}" for c in "abcdefgh"]


def qemu_argv(
    spec: GuestSpec, *, binary: str, accel: str, pidfile: Path, ovmf_code: Path | None, incoming: bool
) -> list[str]:
    """The command line of a guest; QEMU runs with the instance dir as its working dir."""
    machine = f"q35,accel={accel}"
    argv = [binary, "-uuid", spec.uuid, "-name", f"guest=instance-{spec.uuid}"]
    if ovmf_code is not None:
        # Firmware code shared read-only; the variables store is the instance's own copy.
        for node, path, readonly in (("fw-code", ovmf_code, True), ("fw-vars", Path("OVMF_VARS.fd"), False)):
            file_node = {"driver": "file", "node-name": f"{node}-file", "filename": str(path)}
            raw_node = {"driver": "raw", "node-name": node, "file": f"{node}-file"}
            for value in (file_node, raw_node):
                argv += ["-blockdev", json.dumps({**value, "read-only": readonly})]
        machine += ",pflash0=fw-code,pflash1=fw-vars"
    argv += ["-machine", machine, "-m", str(spec.memory_mb), "-smp", str(spec.vcpus)]
    if accel == "kvm":
        argv += ["-cpu", "host"]
    argv += [
        "-nodefaults", "-no-user-config", "-daemonize",
        "-pidfile", str(pidfile),
        # Sockets are relative to the instance dir (QEMU's cwd at start): absolute paths
        # can exceed the 108-byte limit of a unix socket address.
        "-chardev", "socket,id=qmp,path=qmp.sock,server=on,wait=off",
        "-mon", "chardev=qmp,mode=control",
        "-chardev", "file,id=serial0,path=console.log,append=on",
        "-serial", "chardev:serial0",
        "-vga", "std", "-vnc", "unix:vnc.sock",
        "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
    ]  # fmt: skip
    for index in range(len(TARGETS)):
        argv += [
            "-device",
            f"pcie-root-port,id=rp{index},chassis={index + 1},bus=pcie.0,addr={0x10 + index:#x}",
        ]
    for disk in spec.disks:
        for option, value in disk_options(disk, boot=disk.target == "vda"):
            argv += [option, json.dumps(value)]
    if spec.kernel:
        argv += ["-kernel", spec.kernel]
        if spec.ramdisk:
            argv += ["-initrd", spec.ramdisk]
        if spec.cmdline:
            argv += ["-append", spec.cmdline]
    if spec.config_drive:
        # Its own PCIe slot, so it never takes a target from the volumes.
        for node in (
            {"driver": "file", "node-name": "file-config", "filename": spec.config_drive},
            {"driver": "raw", "node-name": "fmt-config", "file": "file-config"},
        ):
            argv += ["-blockdev", json.dumps({**node, "read-only": True})]
        argv += ["-device", "virtio-blk-pci,drive=fmt-config,id=config-drive,bus=pcie.0,addr=0x4"]
    if spec.network:
        net = spec.network
        if net.tap:
            # The tap device the agent put on the network's bridge; the host's dnsmasq answers DHCP.
            netdev = f"tap,id=net0,ifname={net.tap},script=no,downscript=no"
        else:
            # user networking with the instance's network, gateway and DHCP start: the guest's
            # only lease is its recorded address.
            netdev = f"user,id=net0,net={net.cidr},host={net.gateway},dhcpstart={net.lease_start}"
        # No option ROM: guests boot from disk, not PXE.
        argv += [
            "-netdev", netdev,
            "-device", f"virtio-net-pci,netdev=net0,mac={net.mac},bus=pcie.0,addr=0x3,romfile=",
        ]  # fmt: skip
    if incoming:
        argv += ["-incoming", "defer"]
    return argv


def disk_options(disk: DiskSpec, boot: bool) -> list[tuple[str, dict]]:
    """The blockdev nodes and the virtio-blk device of one disk, as option/QMP argument pairs.
    Names derive from the target, so the same disk has the same names on every start."""
    target = disk.target
    file_node = {
        "driver": "file",
        "node-name": f"file-{target}",
        "filename": disk.path,
        "read-only": disk.readonly,
    }
    format_node = {"driver": disk.format, "node-name": f"fmt-{target}", "file": f"file-{target}"}
    format_node["read-only"] = disk.readonly
    device: dict = {
        "driver": "virtio-blk-pci", "id": f"dev-{target}", "drive": f"fmt-{target}",
        "bus": f"rp{TARGETS.index(target)}",
    }  # fmt: skip
    if boot:
        device["bootindex"] = 1
    return [("-blockdev", file_node), ("-blockdev", format_node), ("-device", device)]
