from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from instances.virt import disks
from instances.virt.base import VirtError
from instances.virt.imagecache import ImageCache, base_format
from tests.support.diskformats import every_format

IMAGE_ID = "0b2f6e0a-6a4e-4c55-9a5e-2d1f5b1f0c11"


@pytest.fixture
def cache(tmp_path, limits) -> ImageCache:
    return ImageCache(tmp_path / "cache", limits)


@pytest.fixture
def image(marker_image) -> tuple[Path, str]:
    path = marker_image[0]
    return path, hashlib.sha512(path.read_bytes()).hexdigest()


def counting_fetch(path: Path, calls: list[int]):
    def fetch(out) -> None:
        calls.append(1)
        with open(path, "rb") as fh:
            while chunk := fh.read(64 * 1024):
                out.write(chunk)

    return fetch


def test_it_caches_a_verified_base_that_an_overlay_can_use(cache, image, tmp_path, limits):
    path, sha = image
    calls: list[int] = []
    base = cache.ensure(IMAGE_ID, sha, "raw", counting_fetch(path, calls))
    assert base.read_bytes() == path.read_bytes()
    assert base.stat().st_mode & 0o777 == 0o444
    assert cache.ensure(IMAGE_ID, sha, "raw", counting_fetch(path, calls)) == base
    assert calls == [1]
    overlay = disks.create_overlay(base, "raw", tmp_path / "disk", 1, limits=limits)
    assert disks.info(overlay, "qcow2", limits=limits).backing_file == str(base)


def test_a_hash_mismatch_is_rejected_and_nothing_is_cached(cache, image):
    path, _sha = image
    with pytest.raises(VirtError, match="does not match its os_hash_value"):
        cache.ensure(IMAGE_ID, "0" * 128, "raw", path)
    assert cache.cached() == []
    assert list(cache.root.glob("*.part")) == []


def test_content_of_another_format_than_declared_is_rejected(cache, tmp_path, limits):
    qcow = disks.create_blank(tmp_path / "blank.qcow2", size_mb=1, limits=limits)
    sha = hashlib.sha512(qcow.read_bytes()).hexdigest()
    with pytest.raises(VirtError, match="contains qcow2, not the declared raw"):
        cache.ensure(IMAGE_ID, sha, "raw", qcow)
    assert cache.cached() == []


def test_a_poisoned_cache_file_is_detected_and_fetched_again(cache, image):
    path, sha = image
    calls: list[int] = []
    base = cache.ensure(IMAGE_ID, sha, "raw", counting_fetch(path, calls))
    stat = base.stat()
    os.chmod(base, 0o644)
    with open(base, "r+b") as fh:  # same size, and the mtime put back: only ctime and the hash tell
        fh.seek(100)
        fh.write(b"\x90\x90\x90\x90")
    os.utime(base, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.ensure(IMAGE_ID, sha, "raw", counting_fetch(path, calls)) == base
    assert calls == [1, 1]
    assert base.read_bytes() == path.read_bytes()


def test_a_touched_but_unchanged_file_is_rehashed_and_kept(cache, image):
    path, sha = image
    calls: list[int] = []
    base = cache.ensure(IMAGE_ID, sha, "raw", counting_fetch(path, calls))
    os.utime(base)
    cache.ensure(IMAGE_ID, sha, "raw", counting_fetch(path, calls))
    assert calls == [1]


def test_concurrent_ensures_fetch_once(cache, image):
    path, sha = image
    calls: list[int] = []
    second_started = threading.Event()
    read = counting_fetch(path, calls)

    def slow_first_fetch(out) -> None:
        # Hold the first fetch open until the other worker has asked for the same image.
        assert second_started.wait(30)
        read(out)

    results: list[Path] = []
    first = threading.Thread(
        target=lambda: results.append(cache.ensure(IMAGE_ID, sha, "raw", slow_first_fetch))
    )
    first.start()
    second_started.set()
    results.append(cache.ensure(IMAGE_ID, sha, "raw", read))
    first.join(30)
    assert calls == [1]
    assert len(results) == 2 and results[0] == results[1]


def test_prune_removes_only_unused_bases_older_than_the_age(cache, image, tmp_path):
    path, sha = image
    other = tmp_path / "other.raw"
    other.write_bytes(path.read_bytes()[:-1] + b"\x01")
    other_sha = hashlib.sha512(other.read_bytes()).hexdigest()
    cache.ensure("old-unused", sha, "raw", path)
    cache.ensure("old-in-use", sha, "raw", path)
    cache.ensure("fresh", other_sha, "raw", other)
    assert cache.prune(3600, in_use=set()) == []
    for image_id in ("old-unused", "old-in-use"):  # last used two hours ago
        meta_path = cache.root / f"{image_id}.json"
        meta = json.loads(meta_path.read_text())
        meta["last_used"] = time.time() - 7200
        meta_path.write_text(json.dumps(meta))
    removed = cache.prune(3600, in_use={"old-in-use"})
    assert removed == ["old-unused"]
    assert cache.cached() == ["fresh", "old-in-use"]


def test_a_kernel_is_cached_by_its_hash_alone_where_a_disk_would_fail_the_safety_checks(cache, tmp_path):
    # A bzImage ends its first sector with the MBR signature; its "partition entries" are code.
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"MZ" + bytes(444) + b"\x12" * 64 + b"\x55\xaa" + b"kernel" * 200)
    sha = hashlib.sha512(kernel.read_bytes()).hexdigest()
    with pytest.raises(VirtError, match="failed the safety check"):
        cache.ensure(IMAGE_ID, sha, "raw", kernel)
    assert cache.ensure(IMAGE_ID, sha, "aki", kernel).read_bytes() == kernel.read_bytes()
    with pytest.raises(VirtError, match="does not match its os_hash_value"):
        cache.ensure("other-kernel", "0" * 128, "aki", kernel)


@pytest.mark.parametrize("name", ["vmdk-sparse", "vmdk-stream", "vhd", "vhdx", "vdi"])
def test_a_format_guests_do_not_run_on_is_converted_once_to_qcow2(cache, tmp_path, limits, name):
    disk = next(d for d in every_format(tmp_path / "formats", "CACHE") if d.name == name)
    sha = hashlib.sha512(disk.path.read_bytes()).hexdigest()
    calls: list[int] = []
    base = cache.ensure(IMAGE_ID, sha, disk.disk_format, counting_fetch(disk.path, calls))
    assert base_format(disk.disk_format) == "qcow2"
    assert disks.inspect(base, "qcow2", limits=limits).virtual_size >= 1024 * 1024
    assert cache.ensure(IMAGE_ID, sha, disk.disk_format, counting_fetch(disk.path, calls)) == base
    assert calls == [1]
    overlay = disks.create_overlay(base, "qcow2", tmp_path / "disk", 1, limits=limits)
    assert disks.info(overlay, "qcow2", limits=limits).backing_file == str(base)
    assert list(cache.root.glob(".*part*")) == []


def test_a_converted_base_that_changed_is_fetched_and_converted_again(cache, tmp_path, limits):
    disk = next(d for d in every_format(tmp_path / "formats", "CACHE") if d.name == "vdi")
    sha = hashlib.sha512(disk.path.read_bytes()).hexdigest()
    calls: list[int] = []
    base = cache.ensure(IMAGE_ID, sha, "vdi", counting_fetch(disk.path, calls))
    good = base.read_bytes()
    os.chmod(base, 0o644)
    with open(base, "r+b") as fh:  # a byte of the guest's data flipped
        fh.seek(len(good) - 1)
        fh.write(bytes([good[-1] ^ 0xFF]))
    assert cache.ensure(IMAGE_ID, sha, "vdi", counting_fetch(disk.path, calls)) == base
    assert calls == [1, 1] and base.read_bytes() == good
