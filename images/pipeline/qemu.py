"""qemu-img in the image pipeline: any failure, kill or timeout means the image is invalid."""

from __future__ import annotations

from pathlib import Path

from dashboard import qemu_img
from images.pipeline.errors import ImageRejected


def info(path: Path, fmt: str) -> dict:
    try:
        return qemu_img.info(path, fmt)
    except qemu_img.QemuImgError as exc:
        what = "took too long" if exc.timed_out else "failed"
        raise ImageRejected(f"The image could not be processed: qemu-img info {what}.") from exc


def convert(source: Path, fmt: str, target: Path, target_fmt: str) -> None:
    try:
        qemu_img.convert(source, fmt, target, target_fmt)
    except qemu_img.QemuImgError as exc:
        what = "took too long" if exc.timed_out else "failed"
        raise ImageRejected(f"The image could not be processed: qemu-img convert {what}.") from exc
