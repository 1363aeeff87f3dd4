"""One bootable marker disk in every format a cloud meets, made from the boot-sector marker image
with qemu-img (and, for the ISO, an El Torito CD whose boot image is the marker's boot sector)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pycdlib

from tests.instances.bootimage import boot_sector, build_boot_image
from tests.support.processes import require


@dataclass(frozen=True)
class Disk:
    name: str  # what the tests call it
    path: Path
    disk_format: str  # Glance's
    container_format: str = "bare"


# name → (Glance disk_format, qemu-img output options)
CONVERTED = {
    "qcow2-v2": ("qcow2", ["-O", "qcow2", "-o", "compat=0.10"]),
    "qcow2-v3": ("qcow2", ["-O", "qcow2", "-o", "compat=1.1"]),
    "vmdk-sparse": ("vmdk", ["-O", "vmdk", "-o", "subformat=monolithicSparse"]),
    "vmdk-stream": ("vmdk", ["-O", "vmdk", "-o", "subformat=streamOptimized"]),
    "vhd": ("vhd", ["-O", "vpc", "-o", "subformat=dynamic"]),
    "vhdx": ("vhdx", ["-O", "vhdx"]),
    "vdi": ("vdi", ["-O", "vdi"]),
}


def bootable_iso(path: Path, marker: str) -> Path:
    """An ISO 9660 CD that BIOSes boot (El Torito, no emulation) straight into the marker's code."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, vol_ident="STRATUS")
    image = boot_sector(marker).ljust(2048, b"\0")
    iso.add_fp(io.BytesIO(image), len(image), "/BOOT.IMG;1")
    iso.add_eltorito("/BOOT.IMG;1", bootcatfile="/BOOT.CAT;1", media_name="noemul", boot_load_size=4)
    iso.write(str(path))
    iso.close()
    return path


def ova(path: Path, vmdk: Path) -> Path:
    """An OVA: a tar of an OVF descriptor and the disk it describes."""
    descriptor = (
        b'<?xml version="1.0"?><Envelope><References><File ovf:href="disk1.vmdk"/></References></Envelope>'
    )
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("vm.ovf", descriptor), ("disk1.vmdk", vmdk.read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def every_format(directory: Path, marker: str) -> list[Disk]:
    """The marker disk as raw, qcow2 v2 and v3, VMDK sparse and streamOptimized, VHD, VHDX, VDI, an
    OVA holding the streamOptimized VMDK, and a bootable ISO; each prints ``<marker> <name>``."""
    directory.mkdir(parents=True, exist_ok=True)
    qemu_img = require("qemu-img")
    disks = [Disk("raw", build_boot_image(directory / "raw.img", f"{marker} raw"), "raw")]
    for name, (disk_format, options) in CONVERTED.items():
        source = build_boot_image(directory / f"{name}.src", f"{marker} {name}")
        target = directory / f"{name}.{disk_format}"
        subprocess.run(
            [qemu_img, "convert", "-q", "-f", "raw", *options, str(source), str(target)], check=True
        )
        source.unlink()
        disks.append(Disk(name, target, disk_format))
    inner = directory / "ova-disk.vmdk"
    source = build_boot_image(directory / "ova.src", f"{marker} ova")
    subprocess.run(
        [qemu_img, "convert", "-q", "-f", "raw", *CONVERTED["vmdk-stream"][1], str(source), str(inner)],
        check=True,
    )
    disks.append(Disk("ova", ova(directory / "disk.ova", inner), "vmdk", "ova"))
    disks.append(Disk("iso", bootable_iso(directory / "boot.iso", f"{marker} iso"), "iso"))
    return disks
