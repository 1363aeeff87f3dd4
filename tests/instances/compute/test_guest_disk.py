"""The Linux test guest as one bootable disk image (tests/support/guestdisk.py): its layout read back
(an MBR, one active FAT partition holding SYSLINUX, the kernel, the initramfs and the command line),
the disk booted by bare QEMU through SeaBIOS and SYSLINUX, and the same disk uploaded as an ordinary
raw image, launched through the Compute API with a key pair, user data and a config drive on the
bridged host, and logged into over SSH (tests/instances/compute/guestlogin.py)."""

from __future__ import annotations

import struct
import time
import uuid
from pathlib import Path

import pytest

from tests.instances.compute.guestlogin import CMDLINE, check_login, launch_with_key, ssh_ready
from tests.instances.conftest import upload_image
from tests.plugin import TEST_ROOT
from tests.support.guestdisk import (
    MBR_CODE_PATHS,
    Partition,
    build_disk,
    disk_boot_argv,
    disk_file,
    disk_files,
    read_partitions,
)
from tests.support.linuxguest import BASE_CMDLINE, LinuxGuest, build_guest, console_lines, guest_cmdline
from tests.support.processes import Service, require
from tests.support.wait import WaitTimeout, wait_for

GUEST_CACHE = TEST_ROOT / "linux-guest"
SECTOR = 512
FILES = {"vmlinuz", "initrd.gz", "syslinux.cfg", "ldlinux.sys", "ldlinux.c32"}


@pytest.fixture(scope="session")
def plain_guest() -> LinuxGuest:
    """The guest without its SSH server (nothing to download)."""
    require("busybox")
    for tool in ("mformat", "mcopy", "mdir", "syslinux"):
        require(tool)
    return build_guest(GUEST_CACHE)


def _entries(sector: bytes) -> list[tuple]:
    """The four partition entries, read here rather than by guestdisk.read_partitions: status, CHS
    of the first sector, type, CHS of the last, first sector, sector count."""
    return [struct.unpack_from("<B3sB3sII", sector, 446 + 16 * index) for index in range(4)]


def test_the_disk_has_an_mbr_with_one_active_partition_holding_syslinux_and_the_guest(
    plain_guest: LinuxGuest, tmp_path: Path
):
    cmdline = f"{BASE_CMDLINE} {guest_cmdline(token='layout', dhcp=False)}"
    disk = build_disk(plain_guest, cmdline, GUEST_CACHE)
    data = disk.read_bytes()
    sector = data[:SECTOR]

    assert sector[510:] == b"\x55\xaa"
    mbr_code = next(path for path in MBR_CODE_PATHS if path.exists()).read_bytes()
    assert sector[:440] == mbr_code
    first, *others = _entries(sector)
    assert others == [(0, bytes(3), 0, bytes(3), 0, 0)] * 3
    status, _, kind, _, start, sectors = first
    assert status == 0x80  # active: mbr.bin boots it
    assert kind in (0x01, 0x0E, 0x0C)  # FAT12, FAT16 (LBA), FAT32 (LBA)
    assert start == 2048
    assert (start + sectors) * SECTOR == len(data)  # the partition fills the disk
    assert read_partitions(sector) == [Partition(True, kind, start, sectors)]

    # The partition's boot sector: SYSLINUX's, knowing where the partition starts on the disk.
    boot = data[start * SECTOR : (start + 1) * SECTOR]
    assert boot[3:11] == b"SYSLINUX"
    assert boot[510:] == b"\x55\xaa"
    assert int.from_bytes(boot[0x1C:0x20], "little") == start  # hidden sectors

    partition = read_partitions(sector)[0]
    assert disk_files(disk, partition) == FILES
    assert disk_file(disk, partition, "vmlinuz", tmp_path) == plain_guest.kernel.read_bytes()
    assert disk_file(disk, partition, "initrd.gz", tmp_path) == plain_guest.initrd.read_bytes()
    config = [
        line.split() for line in disk_file(disk, partition, "syslinux.cfg", tmp_path).decode().splitlines()
    ]
    assert ["APPEND", *cmdline.split()] in config
    assert ["LINUX", "/vmlinuz"] in config
    assert ["INITRD", "/initrd.gz"] in config

    # Built once: the same inputs find it in the cache; another command line is another disk.
    built = disk.stat().st_mtime_ns
    assert build_disk(plain_guest, cmdline, GUEST_CACHE) == disk
    assert disk.stat().st_mtime_ns == built
    assert build_disk(plain_guest, f"{cmdline} stratus.poweroff=1", GUEST_CACHE) != disk

    with pytest.raises(ValueError, match="one line"):
        build_disk(plain_guest, f"{cmdline}\nDEFAULT other", GUEST_CACHE)
    with pytest.raises(ValueError, match="0x55 0xAA"):
        read_partitions(bytes(SECTOR))


@pytest.mark.live
def test_bare_qemu_boots_the_disk_through_the_firmware_and_syslinux(
    plain_guest: LinuxGuest, tmp_path: Path, capsys
):
    qemu_binary = require("qemu-system-x86_64")
    token = uuid.uuid4().hex[:12]
    # The token reaches the guest only through the APPEND line of the disk's syslinux.cfg.
    cmdline = f"{BASE_CMDLINE} {guest_cmdline(token=token, dhcp=False, http_port=0, poweroff=True)}"
    disk = build_disk(plain_guest, cmdline, tmp_path)
    serial = tmp_path / "serial.log"
    argv = disk_boot_argv(disk, serial_path=serial, netdev_args=None, qemu=qemu_binary)
    start = time.monotonic()
    qemu = Service("qemu", argv, env={}, cwd=tmp_path, log=tmp_path / "qemu.log")

    def finished() -> bool:
        """QEMU ended (the guest powers off once ready); fails at once on a wrong or failing guest."""
        text = serial.read_text(errors="replace") if serial.exists() else ""
        for line in console_lines(text[: text.rfind("\n") + 1]):  # whole lines: QEMU may be writing one
            if line.startswith("error") or (line.startswith("boot") and line != f"boot token={token}"):
                raise AssertionError(f"unexpected guest line {line!r}; its console:\n{text}")
        return not qemu.alive()

    try:
        wait_for(finished, timeout=180, interval=0.1, what="the disk's guest to power off")
    except WaitTimeout as timeout:
        console = serial.read_text(errors="replace") if serial.exists() else "(nothing)"
        raise WaitTimeout(f"{timeout}; its console:\n{console}") from timeout
    finally:
        qemu.stop()
    seconds = time.monotonic() - start
    console = serial.read_text(errors="replace")
    lines = console_lines(console)
    assert qemu.proc.returncode == 0, console
    assert [line.split()[0] for line in lines] == ["boot", "ready", "poweroff"], console
    assert lines[0] == f"boot token={token}"
    # SYSLINUX (its banner copied to the serial port by the config) ran before the kernel.
    banner = console.find("SYSLINUX ")
    assert 0 <= banner < console.find("STRATUS-GUEST boot"), console
    with capsys.disabled():
        print(
            f"\nlinux guest disk ({disk.stat().st_size // 2**20} MiB): boot to poweroff {seconds:.2f}s (TCG)"
        )


@pytest.mark.live
def test_a_member_logs_in_to_the_guest_launched_from_its_disk_image(
    ssh_guest, world, qemu_bridged, stores_dir, django_capture_on_commit_callbacks
):
    disk = build_disk(ssh_guest, CMDLINE, GUEST_CACHE)
    image = upload_image(world["home"].pk, disk.read_bytes(), disk_format="raw", name="linux-guest-disk")
    assert (image.disk_format, image.status, image.properties) == ("raw", "active", {})
    instance, port, private_key, public_key = launch_with_key(
        world, qemu_bridged, image, django_capture_on_commit_callbacks, name="access-disk", config_drive=True
    )
    try:
        # No kernel of the cloud's: the firmware boots the disk.
        spec = qemu_bridged.driver.saved_spec(str(instance.pk))
        assert (spec.kernel, spec.ramdisk, spec.cmdline) == ("", "", "")
        assert spec.config_drive
        lines = wait_for(
            lambda: ssh_ready(qemu_bridged, instance), timeout=120, interval=0.5, what="'ssh ready'"
        )
        assert "cloudinit source=configdrive" in lines
        assert "userdata exit=0" in lines
        booted = check_login(port, private_key, public_key, "access-disk")
        # The command line of the disk's syslinux.cfg, with the words SYSLINUX adds naming its files.
        added = ["BOOT_IMAGE=/vmlinuz", "initrd=/initrd.gz"]
        assert sorted(booted.split()) == sorted([*CMDLINE.split(), *added]), booted
    finally:
        qemu_bridged.destroy_local(str(instance.pk))
