"""qemu-img for every part of Stratus: the image pipeline and the compute hosts alike.

Every call names the input format with ``-f`` (probing would let a raw image pretend to be a
qcow2 whose backing file is a host file) and runs under ``prlimit`` address-space and CPU limits
plus a wall-clock timeout, because qemu-img parsing a hostile header is the classic way to
exhaust a host.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MiB = 1024**2


class QemuImgError(Exception):
    """qemu-img failed, was killed by its limits, or took too long."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class UnsafePath(QemuImgError):
    """A name qemu-img would not read as a plain local file."""


# qemu-img reads "json:{…}" as a whole block-layer configuration (any driver, any file), and a
# name with a colon before its first slash as "protocol:rest" (file:, nbd:, http:, ssh:, fat: …).
PROTOCOL_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def checked_path(path: str | Path) -> str:
    """``path`` as qemu-img gets it: an absolute local file name. Anything else is refused before
    qemu-img starts: a relative name depends on the working directory, and a json: or protocol
    prefix would have qemu-img open what the name describes instead of a file."""
    name = os.fspath(path)
    if not isinstance(name, str) or not name or "\0" in name:
        raise UnsafePath("qemu-img takes an absolute file name here.")
    if name.startswith("json:"):
        raise UnsafePath("qemu-img takes an absolute file name here, not a json: specification.")
    if PROTOCOL_PREFIX.match(name):
        prefix = name.split(":", 1)[0]
        raise UnsafePath(f"qemu-img takes an absolute file name here, not a {prefix}: location.")
    if not os.path.isabs(name):
        raise UnsafePath("qemu-img takes an absolute file name here, not a relative path.")
    return name


@dataclass(frozen=True)
class Limits:
    address_space_mb: int = 1024
    cpu_seconds: int = 120
    timeout: float = 600.0
    binary: str = "qemu-img"

    @classmethod
    def from_settings(cls) -> Limits:

        return cls(
            address_space_mb=settings.QEMU_IMG_ADDRESS_SPACE_MB,
            cpu_seconds=settings.QEMU_IMG_CPU_SECONDS,
            timeout=settings.QEMU_IMG_TIMEOUT,
            binary=settings.QEMU_IMG_BINARY,
        )


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise QemuImgError(
            f"`{name}` is not installed on this host (Debian: apt install qemu-utils util-linux)."
        )
    return path


def run(args: list[str], limits: Limits | None = None) -> str:
    """Run ``qemu-img ARGS`` under the limits and return its standard output. Every file name in
    ARGS must have come through ``checked_path``."""
    limits = limits or Limits.from_settings()
    argv = [
        tool("prlimit"),
        f"--as={limits.address_space_mb * MiB}",
        f"--cpu={limits.cpu_seconds}",
        "--",
        tool(limits.binary),
        *args,
    ]
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=limits.timeout,
            env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired as exc:
        raise QemuImgError(
            f"qemu-img {args[0]} timed out after {limits.timeout:.0f}s", timed_out=True
        ) from exc
    if result.returncode != 0:
        # A kill by the kernel (CPU or memory limit) or a parse failure.
        raise QemuImgError(f"qemu-img {args[0]} failed: {result.stderr.strip() or result.returncode}")
    return result.stdout


def info(path: str | Path, fmt: str, *, force_share: bool = False, limits: Limits | None = None) -> dict:
    """``qemu-img info`` of a file whose format is already known; ``force_share`` reads a disk in use."""
    args = ["info", "-f", fmt, "--output=json", *(["-U"] if force_share else []), "--", checked_path(path)]
    out = run(args, limits)
    try:
        return json.loads(out)
    except json.JSONDecodeError as exc:
        raise QemuImgError("qemu-img info gave no answer") from exc


def convert(
    source: str | Path,
    fmt: str,
    target: str | Path,
    target_fmt: str,
    *,
    force_share: bool = False,
    limits: Limits | None = None,
) -> None:
    args = [
        "convert",
        "-f",
        fmt,
        "-O",
        target_fmt,
        "-q",
        *(["-U"] if force_share else []),
        "--",
        checked_path(source),
        checked_path(target),
    ]
    run(args, limits)
