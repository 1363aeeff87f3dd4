"""The tests' bootable marker image: the product's own boot sector builder (instances.virt.bootsector),
which the accelerator probe also boots, so there is one copy of the hand-assembled code."""

from __future__ import annotations

from instances.virt.bootsector import DISK_SIZE, boot_sector, build_boot_image

__all__ = ["DISK_SIZE", "boot_sector", "build_boot_image"]
