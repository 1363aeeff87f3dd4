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
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MiB = 1024**2


class QemuImgError(Exception):
    """qemu-img failed, was killed by its limits, or took too long."""

    def __init__(self, message: str, *, timed_out: bool = False, cancelled: bool = False):
        super().__init__(message)
        self.timed_out = timed_out
        self.cancelled = cancelled


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


def _argv(args: list[str], limits: Limits) -> list[str]:
    return [
        tool("prlimit"),
        f"--as={limits.address_space_mb * MiB}",
        f"--cpu={limits.cpu_seconds}",
        "--",
        tool(limits.binary),
        *args,
    ]


def run(args: list[str], limits: Limits | None = None) -> str:
    """Run ``qemu-img ARGS`` under the limits and return its standard output. Every file name in
    ARGS must have come through ``checked_path``."""
    limits = limits or Limits.from_settings()
    argv = _argv(args, limits)
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


# qemu-img -p prints "    (12.34/100%)\r" after each step.
PROGRESS = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")
# How often a watched run asks whether it should stop.
WATCH_INTERVAL = 0.2


def run_watched(
    args: list[str],
    limits: Limits | None = None,
    *,
    cancelled: Callable[[], bool],
    progress: Callable[[float], None] | None = None,
) -> None:
    """``run`` for long work (a conversion): reports qemu-img's own progress (``-p`` in ARGS) as a
    fraction, and kills qemu-img within WATCH_INTERVAL once ``cancelled()`` says so."""
    limits = limits or Limits.from_settings()
    proc = subprocess.Popen(
        _argv(args, limits),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
        start_new_session=True,  # prlimit and qemu-img are killed together
    )
    stderr: list[bytes] = []
    readers = [
        threading.Thread(target=_read_progress, args=(proc.stdout, progress), daemon=True),
        threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True),
    ]
    for reader in readers:
        reader.start()
    ends = time.monotonic() + limits.timeout
    try:
        while True:
            try:
                proc.wait(timeout=WATCH_INTERVAL)
                break
            except subprocess.TimeoutExpired:
                pass
            if cancelled():
                raise QemuImgError(f"qemu-img {args[0]} was cancelled", cancelled=True)
            if time.monotonic() > ends:
                message = f"qemu-img {args[0]} timed out after {limits.timeout:.0f}s"
                raise QemuImgError(message, timed_out=True)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for reader in readers:
            reader.join()
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode != 0:
        message = b"".join(stderr).decode(errors="replace").strip()
        raise QemuImgError(f"qemu-img {args[0]} failed: {message or proc.returncode}")


def _read_progress(stream, progress: Callable[[float], None] | None) -> None:
    while data := stream.read1(4096):
        if progress is not None and (found := PROGRESS.findall(data)):
            progress(float(found[-1]) / 100)


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
    cancelled: Callable[[], bool] | None = None,
    progress: Callable[[float], None] | None = None,
    rate_limit: int = 0,
) -> None:
    """With ``cancelled`` (and optionally ``progress``), the conversion can be stopped part way
    and reports how far it got (see run_watched). ``rate_limit``: bytes a second (0: no limit)."""
    args = [
        "convert",
        "-f",
        fmt,
        "-O",
        target_fmt,
        "-p" if cancelled else "-q",
        *(["-U"] if force_share else []),
        *(["-r", str(rate_limit)] if rate_limit else []),
        "--",
        checked_path(source),
        checked_path(target),
    ]
    if cancelled is None:
        run(args, limits)
    else:
        run_watched(args, limits, cancelled=cancelled, progress=progress)
