"""The qemu-img wrapper takes absolute local file names only. qemu-img reads ``json:{…}`` as a
whole block-layer configuration and ``name:rest`` (before any slash) as a protocol: ``nbd:``,
``http:``, ``file:``, ``fat:``…; a relative name depends on the working directory."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import pytest

from dashboard import qemu_img
from tests.support.processes import require

UNSAFE = {
    "relative": "disk.qcow2",
    "dot-relative": "./disk.qcow2",
    "parent-relative": "../disk.qcow2",
    "json": 'json:{"file.driver": "file", "file.filename": "/etc/shadow"}',
    "file protocol": "file:/etc/passwd",
    "file URL": "file:///etc/passwd",
    "nbd URL": "nbd://127.0.0.1:10809/export",
    "nbd legacy": "nbd:127.0.0.1:10809",
    "http": "http://169.254.169.254/latest/meta-data",
    "https": "https://example.com/disk.qcow2",
    "ssh": "ssh://host/disk.qcow2",
    "vvfat": "fat:rw:/etc",
    "empty": "",
}


@pytest.fixture
def runs(monkeypatch):
    """Every process the wrapper starts, recorded, and started for real."""
    started = []
    real = subprocess.run

    def run(argv, *args, **kwargs):
        started.append(argv)
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(qemu_img.subprocess, "run", run)
    return started


@pytest.mark.parametrize("path", UNSAFE.values(), ids=UNSAFE.keys())
def test_info_refuses_a_path_that_is_not_an_absolute_file_name(path, runs):
    with pytest.raises(qemu_img.UnsafePath):
        qemu_img.info(path, "qcow2")
    assert runs == []


@pytest.mark.parametrize("path", UNSAFE.values(), ids=UNSAFE.keys())
def test_convert_refuses_such_a_source_or_target(path, tmp_path, runs):
    with pytest.raises(qemu_img.UnsafePath):
        qemu_img.convert(path, "raw", tmp_path / "out.qcow2", "qcow2")
    with pytest.raises(qemu_img.UnsafePath):
        qemu_img.convert(tmp_path / "in.raw", "raw", path, "qcow2")
    assert runs == []


def test_an_absolute_path_is_passed_as_it_is_even_with_a_colon_inside(tmp_path, runs):
    # A colon after the first slash is part of a file name to qemu-img, not a protocol.
    path = tmp_path / "odd:name.qcow2"
    subprocess.run(
        [require("qemu-img"), "create", "-f", "qcow2", str(path), "1M"], check=True, capture_output=True
    )
    assert qemu_img.info(path, "qcow2")["virtual-size"] == 1 << 20
    assert runs[-1][-1] == str(path)


def test_a_watched_conversion_reports_progress_and_stops_when_cancelled(tmp_path):
    source = tmp_path / "in.raw"
    with source.open("wb") as fh:
        for _ in range(64):
            fh.write(os.urandom(1 << 20))
    shares: list[float] = []
    qemu_img.convert(
        source, "raw", tmp_path / "done.qcow2", "qcow2", cancelled=lambda: False, progress=shares.append
    )
    assert shares and shares[-1] == 1.0

    # Slowed to 4 MiB/s by qemu-img's own rate limit, it would take 16 s: the cancel stops it at once.
    started = time.monotonic()
    with pytest.raises(qemu_img.QemuImgError) as caught:
        qemu_img.convert(
            source,
            "raw",
            tmp_path / "cut.qcow2",
            "qcow2",
            cancelled=lambda: time.monotonic() - started > 0.5,
            rate_limit=4 << 20,
        )
    assert caught.value.cancelled and time.monotonic() - started < 0.5 + 2 * qemu_img.WATCH_INTERVAL + 1
    assert not [c for c in _cmdlines() if b"qemu-img" in c and str(tmp_path).encode() in c]


def _cmdlines() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found.append((entry / "cmdline").read_bytes())
    return found
