"""The QEMU command line of a guest: its NIC (user networking or a tap on the host's bridge) and a
direct kernel boot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instances.virt.argv import qemu_argv
from instances.virt.base import GuestSpec, NetworkSpec, VirtError

UUID = "0b7e3c52-1d9a-4f0e-8a6b-2c4d5e6f7a8b"


def argv_of(spec: GuestSpec) -> list[str]:
    return qemu_argv(spec, binary="qemu", accel="tcg", pidfile=Path("pid"), ovmf_code=None, incoming=False)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def network(**extra) -> NetworkSpec:
    return NetworkSpec("10.20.0.0/24", "10.20.0.12", "10.20.0.1", "fa:16:3e:00:00:0c", **extra)


def test_a_nic_without_a_tap_is_user_networking_leasing_the_instances_address():
    argv = argv_of(GuestSpec(UUID, "vm", 1, 64, network=network()))
    assert option(argv, "-netdev") == "user,id=net0,net=10.20.0.0/24,host=10.20.0.1,dhcpstart=10.20.0.12"
    assert any(a.startswith("virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:0c") for a in argv)


def test_a_nic_with_a_tap_opens_that_device_and_runs_no_scripts():
    argv = argv_of(GuestSpec(UUID, "vm", 1, 64, network=network(tap="sttap-0b7e3c52")))
    assert option(argv, "-netdev") == "tap,id=net0,ifname=sttap-0b7e3c52,script=no,downscript=no"
    assert any(a.startswith("virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:0c") for a in argv)


def test_a_bad_tap_name_is_refused():
    with pytest.raises(VirtError, match="tap device name"):
        network(tap="a-name-far-too-long-for-linux")


def test_a_kernel_boot_passes_kernel_ramdisk_and_command_line():
    spec = GuestSpec(UUID, "vm", 1, 64, kernel="/k/vmlinuz", ramdisk="/k/initrd", cmdline="console=ttyS0")
    argv = argv_of(spec)
    assert (option(argv, "-kernel"), option(argv, "-initrd"), option(argv, "-append")) == (
        "/k/vmlinuz",
        "/k/initrd",
        "console=ttyS0",
    )
    assert "-kernel" not in argv_of(GuestSpec(UUID, "vm", 1, 64))


def test_a_ramdisk_without_a_kernel_or_a_relative_kernel_is_refused():
    with pytest.raises(VirtError, match="needs a kernel"):
        GuestSpec(UUID, "vm", 1, 64, ramdisk="/k/initrd")
    with pytest.raises(VirtError, match="must be absolute"):
        GuestSpec(UUID, "vm", 1, 64, kernel="vmlinuz")


def test_a_saved_spec_from_before_taps_and_kernels_still_loads():
    old = GuestSpec(UUID, "vm", 1, 64, network=network()).to_dict()
    for key in ("kernel", "ramdisk", "cmdline"):
        del old[key]
    del old["network"]["tap"]
    spec = GuestSpec.from_dict(old)
    assert spec.network.tap == "" and spec.kernel == ""


def test_a_config_drive_is_a_read_only_disk_in_its_own_slot():
    argv = argv_of(GuestSpec(UUID, "vm", 1, 64, config_drive="/i/disk.config"))
    nodes = [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == "-blockdev"]
    assert {
        "driver": "file",
        "node-name": "file-config",
        "filename": "/i/disk.config",
        "read-only": True,
    } in nodes
    assert "virtio-blk-pci,drive=fmt-config,id=config-drive,bus=pcie.0,addr=0x4" in argv
    assert not any(a == "-blockdev" for a in argv_of(GuestSpec(UUID, "vm", 1, 64)))
