from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from instances.virt import disks
from instances.virt.base import DiskSpec, GuestSpec
from tests.instances.bootimage import build_boot_image


@pytest.fixture
def limits() -> disks.Limits:
    return disks.Limits(address_space_mb=1024, cpu_seconds=30, timeout=60)


@pytest.fixture
def marker_image(tmp_path: Path) -> tuple[Path, str]:
    """A raw bootable image and the marker its boot sector prints."""
    marker = f"STRATUS-MARKER {uuid.uuid4().hex[:12]}"
    return build_boot_image(tmp_path / "marker.raw", marker), marker


def guest_spec(tmp_path: Path, image: Path, limits: disks.Limits, **overrides) -> GuestSpec:
    """A 64 MiB, 1 vCPU guest whose root disk is a qcow2 overlay on ``image``, plus an ephemeral vdb."""
    guest_uuid = str(uuid.uuid4())
    root = disks.create_overlay(image, "raw", tmp_path / f"{guest_uuid}-disk", 1, limits=limits)
    eph = disks.create_blank(tmp_path / f"{guest_uuid}-disk.eph0", size_mb=16, limits=limits)
    values = {
        "uuid": guest_uuid,
        "name": "vm1",
        "vcpus": 1,
        "memory_mb": 64,
        "disks": [DiskSpec(str(root), "qcow2", "vda"), DiskSpec(str(eph), "qcow2", "vdb")],
    }
    values.update(overrides)
    return GuestSpec(**values)
