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
from instances.virt.base import DISK_FORMATS, VirtError

__all__ = [
    "Limits",
    "DiskInfo",
    "run_qemu_img",
    "info",
    "inspect",
    "create_overlay",
    "create_blank",
    "convert",
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


def _check_format(fmt: str) -> None:
    if fmt not in DISK_FORMATS:
        raise VirtError(f"disk format {fmt!r} must be one of {', '.join(DISK_FORMATS)}")


def info(path: str | Path, fmt: str, *, in_use: bool = False, limits: Limits | None = None) -> DiskInfo:
    """``qemu-img info`` of a file whose format we already know (our own disks, or a checked image)."""
    _check_format(fmt)
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
    ever reads it."""
    _check_format(expected_format)
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
    result = info(path, expected_format, limits=limits)
    if result.backing_file:
        raise VirtError(f"image {path} has a backing file")
    return result


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
    _check_format(source_format)
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
