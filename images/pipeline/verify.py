"""Does the content match its declared disk_format, and is it safe to hand to qemu-img?"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from oslo_utils.imageutils import format_inspector

from images.pipeline import qemu
from images.pipeline.errors import ImageRejected

# Declared formats whose bytes are plain disk contents (the inspector reports them as raw).
RAW_LIKE = {"raw", "ami", "ploop"}
# Formats the inspector knows; for the others content is opaque. That is a kernel (aki) and a
# ramdisk (ari): QEMU loads them as files, never as disks, and a bzImage looks to the inspector like
# an MBR disk with invalid partition entries.
# The container format never makes content opaque: a container name is only a label the uploader
# chose, so a "compressed" or "docker" image gets the same checks as a bare one.
INSPECTED = RAW_LIKE | {"qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"}
# Glance's disk_format (and the inspectors' name) → the name of QEMU's block driver for it.
QEMU_DRIVER = {"iso": "raw", "vhd": "vpc", "gpt": "raw"}


def qemu_driver(name: str) -> str:
    return QEMU_DRIVER.get(name, name)


def detected_format(inspectors: list, disk_format: str):
    """The one format the content is; several at once (a polyglot) is refused."""
    names = sorted(str(i) for i in inspectors)
    if not names:
        raise ImageRejected("The image format could not be determined.")
    if len(names) > 1:
        # A bootable ISO may also carry a GPT; any other combination hides one image in another.
        if set(names) == {"iso", "gpt"} and disk_format == "iso":
            return next(i for i in inspectors if str(i) == "iso")
        raise ImageRejected(f"The image content matches several formats ({', '.join(names)}); refused.")
    return inspectors[0]


def check_content(
    inspectors: list, disk_format: str, container_format: str | None, size: int = 0
) -> tuple[str, int]:
    """Match, safety check and virtual size. Returns (QEMU's driver name, virtual size).
    ``size`` is the byte count: the virtual size of raw content (the inspectors only saw its head).
    ``container_format`` changes nothing here, on purpose (see INSPECTED)."""
    if disk_format not in INSPECTED:
        return "raw", 0
    inspector = detected_format(inspectors, disk_format)
    found = str(inspector)
    # A hybrid ISO (bootable from a CD and from a disk) carries an MBR or GPT too: check it as well.
    also = [i for i in inspectors if i is not inspector]
    if found in ("qed", "luks"):
        raise ImageRejected(f"The {found} format is not allowed.")
    content = "raw" if found == "gpt" else found
    wanted = "raw" if disk_format in RAW_LIKE else disk_format
    if content != wanted:
        raise ImageRejected(f"Image content is {content} but disk_format is {disk_format}.")
    fmt = qemu_driver(content)
    try:
        for checked in (inspector, *also):
            checked.safety_check()
    except format_inspector.SafetyCheckFailed as exc:
        raise ImageRejected(f"The image failed safety checks: {', '.join(sorted(exc.failures))}.") from exc
    except format_inspector.ImageFormatError as exc:
        raise ImageRejected(f"The image is not a valid {disk_format} file.") from exc
    virtual_size = size if fmt == "raw" else int(inspector.virtual_size or 0)
    if virtual_size > settings.IMAGE_MAX_VIRTUAL_SIZE:
        raise ImageRejected(
            f"The image's virtual size of {virtual_size} bytes exceeds the limit of "
            f"{settings.IMAGE_MAX_VIRTUAL_SIZE} bytes."
        )
    return fmt, virtual_size


def check_with_qemu(path: Path, fmt: str) -> int:
    """A second opinion from qemu-img info (run with -f ``fmt``, a QEMU driver name as
    check_content returns it, on data that passed the safety check)."""
    fmt = qemu_driver(fmt)
    if fmt == "raw":
        return path.stat().st_size
    data = qemu.info(path, fmt)
    if data.get("format") != fmt:
        raise ImageRejected(f"qemu-img reads this image as {data.get('format')}, not {fmt}.")
    if data.get("backing-filename") or data.get("full-backing-filename"):
        raise ImageRejected("The image has a backing file; refused.")
    specific = (data.get("format-specific") or {}).get("data") or {}
    if specific.get("data-file"):
        raise ImageRejected("The image has an external data file; refused.")
    if fmt == "vmdk":
        create_type = specific.get("create-type")
        if create_type not in settings.IMAGE_VMDK_ALLOWED_TYPES:
            raise ImageRejected(f"VMDK create-type {create_type!r} is not allowed.")
        if any(e.get("filename") != str(path) for e in specific.get("extents") or []):
            raise ImageRejected("The VMDK refers to other files; refused.")
    virtual_size = int(data.get("virtual-size") or 0)
    if virtual_size > settings.IMAGE_MAX_VIRTUAL_SIZE:
        raise ImageRejected(f"The image's virtual size of {virtual_size} bytes exceeds the limit.")
    return virtual_size
