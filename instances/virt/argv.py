"""QEMU command lines of guests (see devices.py for where each device sits, qemu.py for the rest)."""

from __future__ import annotations

import json
from pathlib import Path

from instances.virt import devices
from instances.virt.base import GuestSpec
from instances.virt.devices import disk_options


def qemu_argv(
    spec: GuestSpec,
    *,
    binary: str,
    accel: str,
    pidfile: Path,
    ovmf_code: Path | None,
    incoming: bool,
    paused: bool = False,
) -> list[str]:
    """The command line of a guest; QEMU runs with the instance dir as its working dir."""
    machine = f"{spec.machine},accel={accel}"
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
        "-vnc", "unix:vnc.sock",
    ]  # fmt: skip
    argv += devices.peripherals(spec)
    argv += devices.controllers(spec)
    options = [
        option for disk in spec.disks for option in disk_options(spec, disk, boot=disk.target == "vda")
    ]
    if spec.cdrom:
        options += devices.cdrom_options(spec)
    for option, value in options:
        argv += [option, json.dumps(value)]
    if spec.kernel:
        argv += ["-kernel", spec.kernel]
        if spec.ramdisk:
            argv += ["-initrd", spec.ramdisk]
        if spec.cmdline:
            argv += ["-append", spec.cmdline]
    if spec.config_drive:
        for node in devices.block_nodes("config", spec.config_drive, "raw", readonly=True):
            argv += ["-blockdev", json.dumps(node)]
        argv += ["-device", devices.config_drive_device(spec)]
    if spec.network:
        net = spec.network
        if net.tap:
            # The tap device the agent put on the network's bridge; the host's dnsmasq answers DHCP.
            netdev = f"tap,id=net0,ifname={net.tap},script=no,downscript=no"
        else:
            # user networking with the instance's network, gateway and DHCP start: the guest's
            # only lease is its recorded address.
            netdev = f"user,id=net0,net={net.cidr},host={net.gateway},dhcpstart={net.lease_start}"
        argv += ["-netdev", netdev, "-device", devices.nic_device(spec)]
    if incoming:
        argv += ["-incoming", "defer"]
    if paused:  # vCPUs stopped until `cont` (a live migration's destination)
        argv.append("-S")
    return argv
