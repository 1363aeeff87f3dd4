"""The compute host's image cache keeps an ISO as a read-only CD-ROM source: checked as an ISO (a
hybrid ISO's MBR included), never parsed as a disk or used as a backing file."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest

from instances.virt import disks
from instances.virt.base import VirtError
from instances.virt.imagecache import ImageCache
from tests.instances.installer import build_installer_iso

ISO_ID = "6c1d2a8e-3f47-4d0b-9a51-7e2f0c9b8d14"


@pytest.fixture
def cache(tmp_path, limits) -> ImageCache:
    return ImageCache(tmp_path / "cache", limits)


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def with_mbr(data: bytes, boot_flag: int) -> bytes:
    image = bytearray(data)
    image[446:462] = struct.pack("<B3BB3BII", boot_flag, 0, 2, 0, 0x17, 0xFE, 0xFF, 0xFF, 0, len(data) // 512)
    image[510:512] = b"\x55\xaa"
    return bytes(image)


def test_an_iso_is_cached_read_only_as_it_was_uploaded(cache, tmp_path):
    iso = build_installer_iso(tmp_path / "installer.iso", "cache")
    data = iso.read_bytes()
    cached = cache.ensure(ISO_ID, sha512(data), "iso", iso)
    assert cached.read_bytes() == data
    assert cached.stat().st_mode & 0o777 == 0o444
    assert json.loads((cache.root / f"{ISO_ID}.json").read_text())["disk_format"] == "iso"
    assert cache.ensure(ISO_ID, sha512(data), "iso", iso) == cached  # verified, reused


@pytest.mark.parametrize("content", ["raw", "qcow2"])
def test_a_disk_declared_iso_is_refused_and_not_cached(cache, tmp_path, marker_image, limits, content):
    path = marker_image[0]
    if content == "qcow2":
        path = disks.convert(path, "raw", tmp_path / "m.qcow2", "qcow2", limits=limits)
    data = Path(path).read_bytes()
    with pytest.raises(VirtError, match="not an ISO"):
        cache.ensure(ISO_ID, sha512(data), "iso", path)
    assert cache.cached() == []


def test_a_hybrid_iso_is_cached_when_its_mbr_is_sound_and_refused_when_not(cache, tmp_path):
    plain = build_installer_iso(tmp_path / "installer.iso", "hybrid").read_bytes()
    sound, broken = tmp_path / "sound.iso", tmp_path / "broken.iso"
    sound.write_bytes(with_mbr(plain, 0x80))
    broken.write_bytes(with_mbr(plain, 0x42))
    assert cache.ensure(ISO_ID, sha512(sound.read_bytes()), "iso", sound).is_file()
    other = "0c6b9f3e-2a1d-4e8f-b7c5-5d4e3f2a1b0c"
    with pytest.raises(VirtError, match="failed the safety check: mbr"):
        cache.ensure(other, sha512(broken.read_bytes()), "iso", broken)
    assert cache.cached() == [ISO_ID]
