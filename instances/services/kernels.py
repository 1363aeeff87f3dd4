"""Direct kernel boot from Glance's kernel (AKI) and ramdisk (ARI) images, as Nova boots an AMI.

An image whose properties name a ``kernel_id`` (and optionally a ``ramdisk_id`` and an
``os_command_line``) boots that kernel and initrd; the image itself stays the root disk vda.
"""

from __future__ import annotations

import uuid

from dashboard.exceptions import BadRequest
from images.choices import DiskFormat, ImageStatus
from images.models import Image

DEFAULT_CMDLINE = "root=/dev/vda console=ttyS0"
# property -> (disk format it must have, what the message calls such an image)
BOOT_FILES = {
    "kernel_id": (DiskFormat.AKI, "a kernel image"),
    "ramdisk_id": (DiskFormat.ARI, "a ramdisk image"),
}


def check_boot_files(ctx, properties: dict) -> None:
    """Refuse a launch whose kernel or ramdisk the project could not boot: it must exist, be
    visible to the project (another project's private kernel is "not found"), active, and of
    the right disk format."""
    if properties.get("ramdisk_id") and not properties.get("kernel_id"):
        raise BadRequest("Image ramdisk_id needs a kernel_id: a ramdisk is only used with a kernel.")
    for prop, (disk_format, kind) in BOOT_FILES.items():
        image_id = properties.get(prop)
        if not image_id:
            continue
        image = _visible_image(ctx, str(image_id))
        if image is None:
            raise BadRequest(f"Image {prop} {image_id} could not be found.")
        if image.status != ImageStatus.ACTIVE or not image.os_hash_value:
            raise BadRequest(f"Image {prop} {image_id} is not active.")
        if image.is_corrupt:
            raise BadRequest(f"Image {prop} {image_id} is unacceptable: {image.corrupt_reason}")
        if image.disk_format != disk_format:
            raise BadRequest(f"Image {prop} {image_id} is not {kind} (disk_format {disk_format}).")


def _visible_image(ctx, image_id: str) -> Image | None:
    try:
        pk = uuid.UUID(image_id)
    except ValueError:
        return None
    return Image.objects.visible_to(ctx).filter(pk=pk).first()


def boot_file_ids(properties: dict) -> dict[str, str]:
    """The kernel and ramdisk image ids an instance boots (empty when it boots from its disk)."""
    return {prop: str(properties[prop]) for prop in BOOT_FILES if properties.get(prop)}
