"""qemu-img in the image pipeline: any failure, kill or timeout means the image is invalid."""

from __future__ import annotations

from pathlib import Path

from dashboard import qemu_img
from images.pipeline.errors import Cancelled, ImageRejected


def info(path: Path, fmt: str) -> dict:
    try:
        return qemu_img.info(path, fmt)
    except qemu_img.QemuImgError as exc:
        what = "took too long" if exc.timed_out else "failed"
        raise ImageRejected(f"The image could not be processed: qemu-img info {what}.") from exc


def convert(
    source: Path,
    fmt: str,
    target: Path,
    target_fmt: str,
    *,
    cancelled=None,
    progress=None,
    rate_limit: int = 0,
) -> None:
    """``cancelled`` and ``progress`` as qemu_img.run_watched takes them; a cancelled conversion
    raises Cancelled. ``rate_limit`` (bytes a second, 0: none) is qemu-img's own -r."""
    try:
        qemu_img.convert(
            source, fmt, target, target_fmt, cancelled=cancelled, progress=progress, rate_limit=rate_limit
        )
    except qemu_img.QemuImgError as exc:
        if exc.cancelled:
            raise Cancelled("The conversion was cancelled.") from exc
        what = "took too long" if exc.timed_out else "failed"
        raise ImageRejected(f"The image could not be processed: qemu-img convert {what}.") from exc
