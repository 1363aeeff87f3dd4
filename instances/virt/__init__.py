"""Hypervisor access for the compute agent: one interface (``base.VirtDriver``), two drivers.

``get_driver()`` builds the driver named by the STRATUS_VIRT_DRIVER setting. It never falls back
to another driver: an unknown name or a host without QEMU is an error that says what is missing.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from instances.virt.base import (
    Capabilities,
    DiskSpec,
    GuestNotFound,
    GuestSpec,
    NetworkSpec,
    PowerState,
    VirtDriver,
    VirtError,
)
from instances.virt.fake import FakeDriver
from instances.virt.qemu import QemuDriver

__all__ = [
    "Capabilities",
    "DiskSpec",
    "GuestNotFound",
    "GuestSpec",
    "NetworkSpec",
    "PowerState",
    "VirtDriver",
    "VirtError",
    "get_driver",
]


def get_driver(name: str | None = None, state_dir: str | Path | None = None) -> VirtDriver:

    name = name or settings.VIRT_DRIVER
    state_dir = Path(state_dir or settings.COMPUTE_STATE_DIR)
    if name == "fake":
        return FakeDriver(state_dir)
    if name == "qemu":
        return QemuDriver(
            state_dir,
            binary=settings.QEMU_BINARY or None,
            accel=settings.QEMU_ACCEL,
            ovmf_code=settings.OVMF_CODE,
            ovmf_vars=settings.OVMF_VARS,
        )
    raise VirtError(f"unknown virt driver {name!r} (expected qemu or fake)")
