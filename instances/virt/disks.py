"""Disk files for guests: root overlays, blank ephemeral/swap disks, inspection, conversion.

Every qemu-img call goes through ``dashboard.qemu_img``: an explicit ``-f``, resource limits, and
absolute file names only (never a json: specification or a protocol such as nbd: or http:).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oslo_utils.imageutils import format_inspector

from dashboard import qemu_img
from dashboard.qemu_img import Limits
from instances.virt.base import DISK_FORMATS, SOURCE_FORMATS, VirtError

__all__ = [
    "Limits",
    "DiskInfo",
    "run_qemu_img",
    "info",
    "inspect",
    "inspect_cdrom",
    "create_overlay",
    "create_blank",
    "convert",
    "grow",
    "rebase_onto",
    "resize",
    "remove",
]

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class DiskInfo:
    format: str
    virtual_size: int
    actual_size: int
    backing_file: str | None
    raw: dict[str, Any]


def run_qemu_img(args: list[str], limits: Limits | None = None) -> str:
    try:
        return qemu_img.run(args, limits)
    except qemu_img.QemuImgError as exc:
        raise VirtError(str(exc)) from exc


def _path(path: str | Path) -> str:
    """The file name qemu-img gets: absolute, local, no json: or protocol prefix."""
    try:
        return qemu_img.checked_path(path)
    except qemu_img.UnsafePath as exc:
        raise VirtError(str(exc)) from exc


def _check_format(fmt: str, *, source: bool = False) -> None:
    """``fmt`` is a QEMU driver name: raw or qcow2, or with ``source`` one the cache converts from."""
    allowed = (*DISK_FORMATS, *SOURCE_FORMATS.values()) if source else DISK_FORMATS
    if fmt not in allowed:
        raise VirtError(f"disk format {fmt!r} must be one of {', '.join(allowed)}")


def info(path: str | Path, fmt: str, *, in_use: bool = False, limits: Limits | None = None) -> DiskInfo:
    """``qemu-img info`` of a file whose format (QEMU's driver name) we already know: our own
    disks, or an image that passed the format inspector."""
    _check_format(fmt, source=True)
    args = ["info", "-f", fmt, "--output=json"]
    if in_use:
        args.append("-U")  # a running guest holds the write lock; reading metadata is still safe
    data = json.loads(run_qemu_img([*args, "--", _path(path)], limits))
    return DiskInfo(
        format=data["format"],
        virtual_size=int(data["virtual-size"]),
        actual_size=int(data.get("actual-size", 0)),
        backing_file=data.get("backing-filename") or data.get("full-backing-filename"),
        raw=data,
    )


def inspect(path: str | Path, expected_format: str, *, limits: Limits | None = None) -> DiskInfo:
    """Check an untrusted image: its content must be ``expected_format`` and pass the format
    inspector's safety checks (no backing file, no data file, sane headers) before qemu-img
    ever reads it. ``expected_format`` is Glance's name (raw, qcow2, or one of SOURCE_FORMATS)."""
    if expected_format not in DISK_FORMATS and expected_format not in SOURCE_FORMATS:
        raise VirtError(f"disk format {expected_format!r} cannot be used for a disk")
    name = _path(path)
    try:
        detected = format_inspector.detect_file_format(name)
        if detected is None:
            raise VirtError(f"could not determine the format of {path}")
        detected.safety_check()
    except format_inspector.SafetyCheckFailed as exc:
        raise VirtError(f"image {path} failed the safety check: {', '.join(exc.failures)}") from exc
    except format_inspector.ImageFormatError as exc:
        raise VirtError(f"image {path} is not a valid disk image: {exc}") from exc
    name = str(detected)
    # A whole-disk image with a GPT is still a raw image (Glance accepts it the same way).
    if name != expected_format and not (expected_format == "raw" and name == "gpt"):
        raise VirtError(f"image {path} contains {name}, not the declared {expected_format}")
    result = info(path, SOURCE_FORMATS.get(expected_format, expected_format), limits=limits)
    if result.backing_file:
        raise VirtError(f"image {path} has a backing file")
    return result


def inspect_cdrom(path: str | Path) -> int:
    """Check an untrusted ISO before a guest gets it as a CD-ROM: its content must be ISO 9660 or
    UDF, alone or with the MBR/GPT of a hybrid ISO (whose partition table passes the same checks as
    a disk's), and nothing else. Returns the size; QEMU reads the file as raw bytes, read-only."""
    with open(path, "rb") as fh:
        wrapper = format_inspector.InspectWrapper(fh)
        try:
            while wrapper.formats is None and wrapper.read(MiB):
                pass
        finally:
            wrapper.close()
        try:
            names = sorted(str(found) for found in wrapper.formats or [])
            if names not in (["iso"], ["gpt", "iso"]):
                raise VirtError(f"image {path} contains {' and '.join(names) or 'nothing known'}, not an ISO")
            for found in wrapper.formats:
                found.safety_check()
        except format_inspector.SafetyCheckFailed as exc:
            raise VirtError(f"image {path} failed the safety check: {', '.join(exc.failures)}") from exc
        except format_inspector.ImageFormatError as exc:
            raise VirtError(f"image {path} is not a valid ISO: {exc}") from exc
    return Path(path).stat().st_size


def create_overlay(
    base_path: str | Path, base_format: str, path: str | Path, size_gb: int, *, limits: Limits | None = None
) -> Path:
    """A qcow2 root disk backed by a cached base image, grown to the flavor's root size.
    A size of 0 keeps the image's own size (Nova's root_gb=0). Never shrinks: that would cut
    the guest's file system, so it is an error."""
    target = _path(path)
    backing = str(Path(_path(base_path)).resolve())
    base = info(backing, base_format, limits=limits)
    size = size_gb * GiB if size_gb else base.virtual_size
    if size < base.virtual_size:
        raise VirtError(
            f"root disk of {size_gb} GiB is smaller than the image's virtual size "
            f"of {base.virtual_size} bytes"
        )
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    run_qemu_img(
        ["create", "-q", "-f", "qcow2", "-b", backing, "-F", base_format, "--", target, str(size)], limits
    )
    return path


def create_blank(
    path: str | Path,
    size_gb: int | None = None,
    *,
    size_mb: int | None = None,
    fmt: str = "qcow2",
    limits: Limits | None = None,
) -> Path:
    """An empty disk (ephemeral vdb, swap) of exactly one of ``size_gb`` / ``size_mb``."""
    _check_format(fmt)
    if (size_gb is None) == (size_mb is None):
        raise VirtError("give exactly one of size_gb and size_mb")
    size = size_gb * GiB if size_gb is not None else size_mb * MiB
    if size <= 0:
        raise VirtError("a blank disk needs a positive size")
    path = Path(_path(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    run_qemu_img(["create", "-q", "-f", fmt, "--", str(path), str(size)], limits)
    return path


def convert(
    source: str | Path,
    source_format: str,
    target: str | Path,
    target_format: str = "qcow2",
    *,
    in_use: bool = False,
    limits: Limits | None = None,
) -> Path:
    """Copy a disk into a standalone file, flattening any backing chain. Written to a temp name
    and renamed, so a failed conversion never leaves a plausible-looking target behind."""
    _check_format(source_format, source=True)
    _check_format(target_format)
    source = _path(source)
    target = Path(_path(target))
    tmp = target.with_name(f".{target.name}.part")
    args = ["convert", "-q", "-f", source_format, "-O", target_format]
    if in_use:
        args.append("-U")
    try:
        run_qemu_img([*args, "--", source, str(tmp)], limits)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def grow(path: str | Path, fmt: str, size_gb: int, *, limits: Limits | None = None) -> None:
    """Grow a disk to ``size_gb`` (a resize to a bigger flavor); the same size is a no-op and a
    smaller one an error, since shrinking would cut the guest's file system."""
    _check_format(fmt)
    current = info(path, fmt, limits=limits).virtual_size
    size = size_gb * GiB
    if size < current:
        raise VirtError(f"disk {path} of {current} bytes cannot shrink to {size_gb} GiB")
    if size > current:
        run_qemu_img(["resize", "-q", "-f", fmt, "--", _path(path), str(size)], limits)


def rebase_onto(
    path: str | Path, base_path: str | Path, base_format: str, *, limits: Limits | None = None
) -> None:
    """Point a qcow2 overlay at another copy of the same base image (the image cache of the host
    the overlay was copied to): only the header changes, the data is the same (``rebase -u``)."""
    _check_format(base_format, source=True)
    base = _path(Path(base_path).resolve())
    run_qemu_img(
        ["rebase", "-q", "-u", "-f", "qcow2", "-b", base, "-F", base_format, "--", _path(path)], limits
    )


def resize(path: str | Path, fmt: str, size: int, *, limits: Limits | None = None) -> None:
    """Set the virtual size of a disk (in bytes); qemu-img refuses to shrink without --shrink."""
    _check_format(fmt)
    run_qemu_img(["resize", "-q", "-f", fmt, "--", _path(path), str(size)], limits)


def remove(*paths: str | Path) -> None:
    """Delete disk files; a file that is already gone is fine (delete is retried on failure)."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
