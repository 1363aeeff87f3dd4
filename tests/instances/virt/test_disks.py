from __future__ import annotations

import pytest

from instances.virt import disks
from instances.virt.base import VirtError


def test_an_overlay_is_grown_to_the_flavor_root_size_on_its_base(marker_image, tmp_path, limits):
    overlay = disks.create_overlay(marker_image[0], "raw", tmp_path / "disk", 2, limits=limits)
    details = disks.info(overlay, "qcow2", limits=limits)
    assert details.virtual_size == 2 * disks.GiB
    assert details.backing_file == str(marker_image[0])
    assert details.raw["backing-filename-format"] == "raw"


def test_an_overlay_smaller_than_the_image_is_refused(tmp_path, limits):
    big = disks.create_blank(tmp_path / "big.raw", size_gb=2, fmt="raw", limits=limits)
    with pytest.raises(VirtError, match="smaller than the image's virtual size"):
        disks.create_overlay(big, "raw", tmp_path / "disk", 1, limits=limits)
    assert not (tmp_path / "disk").exists()


def test_inspect_refuses_a_qcow2_with_a_backing_file(marker_image, tmp_path, limits):
    overlay = disks.create_overlay(marker_image[0], "raw", tmp_path / "disk", 1, limits=limits)
    with pytest.raises(VirtError, match="failed the safety check: backing_file"):
        disks.inspect(overlay, "qcow2", limits=limits)


def test_inspect_accepts_a_partitioned_raw_disk_and_reports_its_size(marker_image, limits):
    assert disks.inspect(marker_image[0], "raw", limits=limits).virtual_size == 1024 * 1024


def test_blank_disks_take_exactly_one_size(tmp_path, limits):
    eph = disks.create_blank(tmp_path / "eph", size_gb=1, limits=limits)
    assert disks.info(eph, "qcow2", limits=limits).virtual_size == disks.GiB
    with pytest.raises(VirtError, match="exactly one of size_gb and size_mb"):
        disks.create_blank(tmp_path / "swap", 1, size_mb=512, limits=limits)


def test_qemu_img_runs_under_the_address_space_limit(tmp_path):
    tight = disks.Limits(address_space_mb=1, cpu_seconds=1, timeout=30)
    with pytest.raises(VirtError, match="qemu-img create failed"):
        disks.create_blank(tmp_path / "eph", size_mb=1, limits=tight)


UNSAFE_PATHS = [
    "disk.qcow2",
    'json:{"file.driver": "file", "file.filename": "/etc/shadow"}',
    "file:/etc/passwd",
    "nbd://127.0.0.1:10809/export",
    "http://169.254.169.254/disk",
]


@pytest.mark.parametrize("path", UNSAFE_PATHS)
def test_every_disk_operation_refuses_a_relative_or_protocol_path(path, marker_image, tmp_path, limits):
    good = marker_image[0]
    calls = [
        lambda: disks.info(path, "qcow2", limits=limits),
        lambda: disks.inspect(path, "raw", limits=limits),
        lambda: disks.create_blank(path, size_mb=1, limits=limits),
        lambda: disks.create_overlay(path, "raw", tmp_path / "overlay", 1, limits=limits),
        lambda: disks.create_overlay(good, "raw", path, 1, limits=limits),
        lambda: disks.convert(path, "raw", tmp_path / "out.qcow2", limits=limits),
        lambda: disks.convert(good, "raw", path, limits=limits),
        lambda: disks.resize(path, "qcow2", disks.GiB, limits=limits),
    ]
    for call in calls:
        with pytest.raises(VirtError, match="absolute file name"):
            call()
    assert not (tmp_path / "overlay").exists() and not (tmp_path / "out.qcow2").exists()


def test_resize_grows_a_disk(tmp_path, limits):
    disk = disks.create_blank(tmp_path / "grow.qcow2", size_mb=1, limits=limits)
    disks.resize(disk, "qcow2", 2 * disks.MiB, limits=limits)
    assert disks.info(disk, "qcow2", limits=limits).virtual_size == 2 * disks.MiB
