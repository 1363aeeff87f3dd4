"""qemu-img, only ever with an explicit format, under CPU and address-space limits and a timeout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from django.conf import settings

from .errors import ImageRejected


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"`{name}` is not installed; the image pipeline needs it.")
    return path


def _limited(argv: list[str]) -> list[str]:
    return [
        _tool("prlimit"),
        f"--cpu={settings.IMAGE_QEMU_IMG_CPU_SECONDS}",
        f"--as={settings.IMAGE_QEMU_IMG_MEMORY}",
        "--",
        *argv,
    ]


def _run(argv: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(
            _limited(argv),
            capture_output=True,
            text=True,
            timeout=settings.IMAGE_QEMU_IMG_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ImageRejected(f"The image could not be processed: {what} took too long.") from exc
    if result.returncode != 0:
        # A kill by the kernel (CPU or memory limit) or a parse failure: an invalid image either way.
        raise ImageRejected(f"The image could not be processed: {what} failed.")
    return result


def info(path: Path, fmt: str) -> dict:
    result = _run([_tool("qemu-img"), "info", "-f", fmt, "--output=json", str(path)], "qemu-img info")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise ImageRejected("The image could not be processed: qemu-img info gave no answer.") from exc


def convert(source: Path, fmt: str, target: Path, target_fmt: str) -> None:
    _run(
        [_tool("qemu-img"), "convert", "-f", fmt, "-O", target_fmt, "-q", str(source), str(target)],
        "qemu-img convert",
    )
