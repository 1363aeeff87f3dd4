"""The Linux test guest (tests/support/linuxguest.py) as a single bootable raw disk image.

An AKI/ARI/AMI triple needs a cloud that boots kernels directly; most images are one disk that the
firmware boots. ``build_disk(guest, cmdline, cache_dir)`` packs a built guest into such a disk, the
way a small distribution image is laid out, with SYSLINUX from Debian's ``syslinux`` package:

- sector 0: an MBR, its boot code SYSLINUX's ``mbr.bin`` (it loads the boot sector of the active
  partition), one partition entry, active, from sector ``PARTITION_START`` (1 MiB) to the end of
  the disk, typed after the FAT ``mformat`` chose for its size (FAT12, FAT16 or FAT32);
- that partition: a FAT file system made by mtools' ``mformat`` (its hidden-sectors field is the
  partition's start, which SYSLINUX's boot sector needs), holding ``vmlinuz`` (the guest's kernel),
  ``initrd.gz`` (its initramfs), ``syslinux.cfg`` and SYSLINUX itself, installed by the mtools
  flavour of the ``syslinux`` installer (``syslinux --install --offset``: boot sector,
  ``ldlinux.sys``, ``ldlinux.c32``);
- ``syslinux.cfg`` boots at once (no prompt, no timeout) the kernel and the initramfs with
  ``cmdline`` as its APPEND line, and copies SYSLINUX's own messages to the first serial port.

``cmdline`` is the whole kernel command line: ``BASE_CMDLINE`` and ``guest_cmdline``'s options, as
for ``upload_guest_triple``. Every step works on the image file: no loop device, no mount, no root.
The disk is cached like the initramfs: ``cache_dir/linuxguest-<version>-disk-<fingerprint>.raw``,
the fingerprint covering this builder, the kernel, the initramfs, the command line, ``mbr.bin`` and
the installer; written to a temporary file and renamed, so parallel builders never see half a disk.

``disk_boot_argv`` boots the disk with bare QEMU (SeaBIOS, the disk on virtio-blk, read-only so the
cached image stays as built); ``read_partitions`` parses an MBR; ``disk_files`` lists the partition
and ``disk_file`` reads a file from it (with mtools).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.linuxguest import DEFAULT_MAC, LinuxGuest, machine_argv

SECTOR = 512
PARTITION_START = 2048  # sectors: 1 MiB, where partitioning tools put the first partition
# The geometry written in the CHS fields of the partition entry and in the FAT's BPB; the boot code
# of mbr.bin and SYSLINUX uses LBA (EDD) where the BIOS has it, as SeaBIOS does.
HEADS, SECTORS_PER_TRACK = 255, 63
MBR_CODE_SIZE = 440  # then the disk signature (4 bytes), 2 reserved bytes, 4 entries, 0x55 0xAA
PARTITION_TABLE = 446
BOOT_SIGNATURE = b"\x55\xaa"
ACTIVE = 0x80
# Partition types by the FAT mformat chose (the type label of its BPB); LBA types where there is one.
FAT_TYPES = {b"FAT12   ": 0x01, b"FAT16   ": 0x0E, b"FAT32   ": 0x0C}
# Debian's syslinux package ships it here, syslinux-common under the second path.
MBR_CODE_PATHS = (Path("/usr/lib/SYSLINUX/mbr.bin"), Path("/usr/lib/syslinux/mbr/mbr.bin"))
VOLUME_LABEL = "STRATUS"
KERNEL_NAME, INITRD_NAME, CONFIG_NAME = "vmlinuz", "initrd.gz", "syslinux.cfg"
# Room next to the kernel and initramfs: SYSLINUX (about 180 KiB), the FATs, the root directory and
# the last cluster of each file.
SLACK = 2 * 1024 * 1024
TOOLS = {"mformat": "mtools", "mcopy": "mtools", "mdir": "mtools", "syslinux": "syslinux"}


@dataclass(frozen=True)
class Partition:
    """A primary partition entry of an MBR, in sectors."""

    active: bool
    type: int
    start: int
    sectors: int


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"`{name}` is missing: install the Debian package {TOOLS[name]}")
    return path


def _mtools(*argv: str) -> subprocess.CompletedProcess:
    """An mtools (or mtools-based) command; MTOOLS_SKIP_CHECK: an image file has no real geometry."""
    done = subprocess.run(
        [_tool(argv[0]), *argv[1:]],
        capture_output=True, env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(argv)}` failed (exit {done.returncode}): {done.stderr.decode(errors='replace')}"
        )
    return done


def _mbr_code() -> bytes:
    for path in MBR_CODE_PATHS:
        if path.exists():
            code = path.read_bytes()
            if len(code) != MBR_CODE_SIZE:
                raise ValueError(f"{path} is {len(code)} bytes, not the {MBR_CODE_SIZE} of MBR boot code")
            return code
    raise FileNotFoundError(
        f"none of {[str(p) for p in MBR_CODE_PATHS]}: install the Debian package syslinux"
    )


def _chs(lba: int) -> bytes:
    """The 3-byte CHS address of a sector; past cylinder 1023, the conventional 1023/254/63."""
    cylinder, rest = divmod(lba, HEADS * SECTORS_PER_TRACK)
    head, sector = rest // SECTORS_PER_TRACK, rest % SECTORS_PER_TRACK + 1
    if cylinder > 1023:
        cylinder, head, sector = 1023, HEADS - 1, SECTORS_PER_TRACK
    return bytes([head, sector | ((cylinder >> 2) & 0xC0), cylinder & 0xFF])


def mbr(code: bytes, partition: Partition, disk_id: int) -> bytes:
    """Sector 0: the boot code, the disk signature, the one partition entry, the boot signature."""
    entry = (
        bytes([ACTIVE if partition.active else 0])
        + _chs(partition.start)
        + bytes([partition.type])
        + _chs(partition.start + partition.sectors - 1)
        + partition.start.to_bytes(4, "little")
        + partition.sectors.to_bytes(4, "little")
    )
    table = entry + bytes(16 * 3)
    return code + disk_id.to_bytes(4, "little") + bytes(2) + table + BOOT_SIGNATURE


def read_partitions(sector: bytes) -> list[Partition]:
    """The used entries of an MBR's partition table; ValueError without the boot signature."""
    if len(sector) < SECTOR or sector[510:512] != BOOT_SIGNATURE:
        raise ValueError("no MBR: sector 0 does not end with 0x55 0xAA")
    partitions = []
    for index in range(4):
        entry = sector[PARTITION_TABLE + 16 * index : PARTITION_TABLE + 16 * (index + 1)]
        if entry[4] == 0:
            continue
        if entry[0] not in (0, ACTIVE):
            raise ValueError(f"partition {index + 1} has the invalid status byte {entry[0]:#04x}")
        start, sectors = int.from_bytes(entry[8:12], "little"), int.from_bytes(entry[12:16], "little")
        partitions.append(Partition(entry[0] == ACTIVE, entry[4], start, sectors))
    return partitions


def syslinux_config(cmdline: str) -> str:
    """Boot the kernel and initramfs at once with ``cmdline``; SYSLINUX's messages also on COM1."""
    if "\n" in cmdline or "\r" in cmdline:
        raise ValueError("the kernel command line must be one line")
    return (
        "SERIAL 0 115200\n"
        "DEFAULT stratus\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "LABEL stratus\n"
        f"  LINUX /{KERNEL_NAME}\n"
        f"  INITRD /{INITRD_NAME}\n"
        f"  APPEND {cmdline}\n"
    )


def _fingerprint(guest: LinuxGuest, cmdline: str, code: bytes) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for data in (
        guest.kernel.read_bytes(),
        guest.initrd.read_bytes(),
        code,
        Path(_tool("syslinux")).read_bytes(),
    ):
        digest.update(hashlib.sha256(data).digest())
    digest.update(cmdline.encode())
    return digest.hexdigest()[:16]


def _image(path: Path, offset: int) -> str:
    """The mtools name of the file system at ``offset`` bytes into the image ``path``."""
    return f"{path}@@{offset}"


def _fill(path: Path, guest: LinuxGuest, cmdline: str, code: bytes, disk_id: int) -> None:
    """Lay the disk out in ``path``, an empty file."""
    payload = guest.kernel.stat().st_size + guest.initrd.stat().st_size
    mib = 1024 * 1024
    size = -(-(payload + payload // 20 + SLACK) // mib) * mib  # 5 % for FAT overhead, whole MiB
    sectors = size // SECTOR
    offset = PARTITION_START * SECTOR
    with path.open("r+b") as disk:
        disk.truncate(offset + size)  # sparse until written
    image = _image(path, offset)
    make_fat = (
        "mformat", "-i", image, "-T", str(sectors), "-h", str(HEADS), "-s", str(SECTORS_PER_TRACK),
        "-H", str(PARTITION_START), "-N", f"{disk_id:08X}", "-v", VOLUME_LABEL, "::",
    )  # fmt: skip
    _mtools(*make_fat)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".guestdisk-") as tmp:
        config = Path(tmp) / CONFIG_NAME
        config.write_text(syslinux_config(cmdline))
        for source, name in ((guest.kernel, KERNEL_NAME), (guest.initrd, INITRD_NAME), (config, CONFIG_NAME)):
            _mtools("mcopy", "-i", image, str(source), f"::/{name}")
    # Writes the FAT's boot sector (keeping its BPB), ldlinux.sys and ldlinux.c32.
    _mtools("syslinux", "--install", "--offset", str(offset), str(path))
    with path.open("r+b") as disk:
        disk.seek(offset)
        boot_sector = disk.read(SECTOR)
        fat = FAT_TYPES.get(boot_sector[0x52:0x5A]) or FAT_TYPES.get(boot_sector[0x36:0x3E])
        if fat is None or boot_sector[510:512] != BOOT_SIGNATURE:
            raise RuntimeError(f"{path}: no FAT boot sector at {offset} after mformat and syslinux")
        disk.seek(0)
        disk.write(mbr(code, Partition(True, fat, PARTITION_START, sectors), disk_id))


def build_disk(guest: LinuxGuest, cmdline: str, cache_dir: Path) -> Path:
    """The raw disk booting ``guest`` with the kernel command line ``cmdline`` (the whole of it),
    built into ``cache_dir`` unless an identical one is already there. See the module docstring."""
    code = _mbr_code()
    syslinux_config(cmdline)  # refuses a command line that would break the config
    fingerprint = _fingerprint(guest, cmdline, code)
    disk = cache_dir / f"linuxguest-{guest.version}-disk-{fingerprint}.raw"
    if disk.exists():
        return disk
    cache_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=cache_dir, prefix=".guestdisk-", suffix=".raw")
    os.close(handle)
    try:
        _fill(Path(name), guest, cmdline, code, int(fingerprint[:8], 16))
        os.replace(name, disk)
    finally:
        Path(name).unlink(missing_ok=True)
    return disk


def disk_files(disk: Path, partition: Partition) -> set[str]:
    """The names (lower case) of the files in the root directory of the FAT ``partition``, hidden
    ones included (SYSLINUX marks its own hidden and system)."""
    listing = _mtools("mdir", "-a", "-b", "-i", _image(disk, partition.start * SECTOR), "::/").stdout
    return {
        line.strip().removeprefix("::/").lower() for line in listing.decode().splitlines() if line.strip()
    }


def disk_file(disk: Path, partition: Partition, name: str, scratch: Path) -> bytes:
    """The content of the file ``name`` in the root directory of the FAT ``partition``, copied out
    into the directory ``scratch``."""
    target = scratch / name.lower()
    _mtools("mcopy", "-n", "-i", _image(disk, partition.start * SECTOR), f"::/{name}", str(target))
    return target.read_bytes()


def disk_boot_argv(
    disk: Path,
    *,
    serial_path: Path,
    netdev_args: str | None,
    memory_mb: int = 256,
    mac: str = DEFAULT_MAC,
    qemu: str | None = None,
    accel: str = "tcg",
) -> list[str]:
    """A QEMU command line booting ``disk`` through the firmware (SeaBIOS) as a cloud does: the disk
    on virtio-blk, first in the boot order, read-only (nothing the guest does changes the cached
    image). The other arguments are ``linuxguest.machine_argv``'s."""
    machine = machine_argv(
        serial_path=serial_path, netdev_args=netdev_args, memory_mb=memory_mb, mac=mac, qemu=qemu, accel=accel
    )
    nodes = (
        {"driver": "file", "node-name": "disk0-file", "filename": str(disk), "read-only": True},
        {"driver": "raw", "node-name": "disk0", "file": "disk0-file", "read-only": True},
    )
    argv = machine
    for node in nodes:
        argv += ["-blockdev", json.dumps(node)]
    return argv + ["-device", "virtio-blk-pci,drive=disk0,bootindex=1"]
