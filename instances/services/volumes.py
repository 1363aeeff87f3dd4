"""Volume lifecycle, written once: create (empty, from an image, from a volume), update, extend,
upload to image, delete, and the sweeper. Attachments live in ``services.attachments``.

Every status change is one conditional UPDATE (:func:`transition`) whose row count is checked.
Long work runs in tasks on the default queue that re-read the volume and act only while it is
still in the status the API put it in, so a task delivered twice finds nothing to do.
"""

from __future__ import annotations

import fnmatch
import logging
import math

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest
from images.choices import ImageStatus
from images.models import Image
from instances.choices import VolumeSource, VolumeStatus
from instances.compute.volume_backend import VolumeBackendError, backend
from instances.models import Volume, VolumeAttachment
from instances.services.volume_quotas import (
    QUOTA_RESOURCES,
    VolumeOverQuota,
    check_quota,
    quota_defaults,
    quota_limits,
    quota_usage,
    reset_quota,
    set_quota,
)

log = logging.getLogger(__name__)

# The zone of a volume whose request names none, as Cinder's default storage zone.
DEFAULT_ZONE = "nova"
__all__ = [
    "QUOTA_RESOURCES",
    "VolumeOverQuota",
    "check_quota",
    "quota_defaults",
    "quota_limits",
    "quota_usage",
    "reset_quota",
    "set_quota",
]
GiB = 1024**3
# Volume work runs on the workers of the default queue, not on a compute host.
VOLUME_QUEUE = "default"
DELETABLE = (VolumeStatus.AVAILABLE, VolumeStatus.ERROR, VolumeStatus.ERROR_DELETING)


class InvalidVolume(BadRequest):
    """Cinder's InvalidVolume (400): the volume's status does not allow the request."""


def transition(volume_id, expected: tuple[str, ...] | str, to: str, **fields) -> bool:
    """expected → to in one conditional UPDATE; False when the volume was not in ``expected``."""
    expected = (expected,) if isinstance(expected, str) else expected
    now = timezone.now()
    return bool(
        Volume.objects.filter(pk=volume_id, deleted=False, status__in=expected).update(
            status=to, status_changed_at=now, updated_at=now, **fields
        )
    )


def require(volume_id, expected: tuple[str, ...] | str, to: str, action: str, **fields) -> None:
    if not transition(volume_id, expected, to, **fields):
        current = Volume.objects.filter(pk=volume_id).values_list("status", flat=True).first()
        wanted = expected if isinstance(expected, str) else " or ".join(expected)
        raise InvalidVolume(
            f"Invalid volume: Volume {volume_id} status must be {wanted} to {action}, "
            f"but current status is: {current}."
        )


# --- create -----------------------------------------------------------------------------------


def image_metadata(image) -> dict[str, str]:
    """The image properties a volume made from it keeps (Cinder's glance_core_properties)."""
    core = {
        "checksum": image.checksum,
        "container_format": image.container_format,
        "disk_format": image.disk_format,
        "image_name": image.name,
        "image_id": str(image.pk),
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "size": image.size,
    }
    values = {**dict(image.properties or {}), **core}
    wanted = settings.VOLUME_IMAGE_PROPERTIES
    return {
        k: str(v)
        for k, v in values.items()
        if v is not None and any(fnmatch.fnmatchcase(k, pattern) for pattern in wanted)
    }


def check_size(size, image=None, source: Volume | None = None) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise BadRequest(f"Invalid input received: size {size!r} must be an integer greater than 0.")
    if size > settings.VOLUME_MAX_SIZE_GB:
        raise BadRequest(
            f"Invalid input received: size {size} exceeds the limit of {settings.VOLUME_MAX_SIZE_GB} GB."
        )
    if image is not None:
        virtual = image.virtual_size or image.size or 0
        if virtual > size * GiB:
            raise BadRequest(
                f"Invalid input received: Size of specified image {math.ceil(virtual / GiB)}GB "
                f"is larger than volume size {size}GB."
            )
        if image.min_disk > size:
            raise BadRequest(
                f"Invalid input received: Volume size {size}GB cannot be smaller than "
                f"the image minDisk size {image.min_disk}GB."
            )
    if source is not None and size < source.size:
        raise BadRequest(
            f"Invalid input received: Volume size {size}GB cannot be smaller than "
            f"the source volume size {source.size}GB."
        )
    return size


def check_image(image) -> None:

    if image.status != ImageStatus.ACTIVE:
        raise BadRequest(
            f"Invalid image identifier or unable to access requested image: {image.pk} is not active."
        )
    if image.is_corrupt:
        raise BadRequest(f"Image {image.pk} is unacceptable: {image.corrupt_reason}")
    if image.disk_format not in ("raw", "qcow2") or not image.os_hash_value:
        raise BadRequest(
            f"Image {image.pk} has disk format {image.disk_format}; volumes are made from raw or qcow2."
        )


def create_volume(
    ctx,
    *,
    size,
    name: str = "",
    description: str = "",
    image=None,
    source_volume: Volume | None = None,
    availability_zone: str | None = None,
    metadata: dict | None = None,
    populate: bool = True,
) -> Volume:
    """Record the volume (creating), counted against the quota at once; a worker writes it.
    ``populate=False``: the caller writes it (a compute agent building a boot volume)."""
    if image is not None:
        check_image(image)
    if source_volume is not None and source_volume.status not in (
        VolumeStatus.AVAILABLE,
        VolumeStatus.IN_USE,
    ):
        raise InvalidVolume(f"Invalid volume: source volume {source_volume.pk} must be available or in-use.")
    check_size(size, image, source_volume)
    source, bootable, image_meta = VolumeSource.EMPTY, False, {}
    if image is not None:
        source, bootable, image_meta = VolumeSource.IMAGE, True, image_metadata(image)
    elif source_volume is not None:
        source, bootable = VolumeSource.VOLUME, source_volume.bootable
        image_meta = dict(source_volume.volume_image_metadata)
    with transaction.atomic():
        check_quota(ctx.project_id, 1, size, size=size)
        volume = Volume.objects.create(
            name=name or "",
            description=description or "",
            project_id=ctx.project_id,
            user=ctx.user,
            size=size,
            status=VolumeStatus.CREATING,
            status_changed_at=timezone.now(),
            bootable=bootable,
            source=source,
            source_image_id=str(image.pk) if image is not None else "",
            source_volume_id=str(source_volume.pk) if source_volume is not None else "",
            volume_image_metadata=image_meta,
            metadata=metadata or {},
            availability_zone=availability_zone or DEFAULT_ZONE,
            format=settings.VOLUME_FORMAT,
        )
        if populate:
            enqueue("instances.create_volume", str(volume.pk), queue=VOLUME_QUEUE)
    return volume


def write_volume(volume: Volume) -> None:
    """Write the volume's file from its source (the body of the create task)."""

    store = backend()
    if volume.source == VolumeSource.IMAGE:
        image = Image.objects.filter(pk=volume.source_image_id).prefetch_related("locations").first()
        if image is None:
            raise VolumeBackendError(f"Image {volume.source_image_id} is gone.")
        store.create_from_image(volume.path, volume.format, volume.size, image)
    elif volume.source == VolumeSource.VOLUME:
        source = Volume.objects.filter(pk=volume.source_volume_id, deleted=False).first()
        if source is None:
            raise VolumeBackendError(f"Source volume {volume.source_volume_id} is gone.")
        store.clone(source.path, source.format, volume.path, volume.format, volume.size)
    else:
        store.create_empty(volume.path, volume.format, volume.size)


def populate(volume_id, ready: str = VolumeStatus.AVAILABLE) -> bool:
    """creating → ``ready`` once the file is written; → error with the reason if it cannot be."""
    volume = Volume.objects.filter(pk=volume_id, deleted=False, status=VolumeStatus.CREATING).first()
    if volume is None:
        return False
    try:
        write_volume(volume)
    except VolumeBackendError as exc:
        log.warning("creating volume %s failed: %s", volume_id, exc)
        transition(volume_id, VolumeStatus.CREATING, VolumeStatus.ERROR, error_message=str(exc)[:255])
        return False
    return transition(volume_id, VolumeStatus.CREATING, ready, error_message="")


# --- update, bootable, extend ----------------------------------------------------------------


def update_volume(volume: Volume, *, name: str | None = None, description: str | None = None) -> Volume:
    fields = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
    if fields:
        Volume.objects.filter(pk=volume.pk, deleted=False).update(updated_at=timezone.now(), **fields)
        for key, value in fields.items():
            setattr(volume, key, value)
    return volume


def reserve(volume: Volume) -> None:
    """Cinder's os-reserve: available → attaching, held for an attach a client will make (the
    sweeper gives it back after STRATUS_VOLUME_TASK_TIMEOUT if nobody does)."""
    require(volume.pk, VolumeStatus.AVAILABLE, VolumeStatus.ATTACHING, "reserve", previous_status="available")


def unreserve(volume: Volume) -> None:
    """Cinder's os-unreserve: a reserved volume (attaching, no attachment yet) → available;
    anything else is left as it is."""
    with transaction.atomic():
        if not VolumeAttachment.objects.filter(volume_id=volume.pk).exists():
            transition(volume.pk, VolumeStatus.ATTACHING, VolumeStatus.AVAILABLE)


def set_bootable(volume: Volume, bootable: bool) -> None:
    Volume.objects.filter(pk=volume.pk, deleted=False).update(bootable=bootable, updated_at=timezone.now())
    volume.bootable = bootable


def begin_extend(ctx, volume: Volume, new_size) -> None:
    check_size(new_size)
    if new_size <= volume.size:
        raise BadRequest(
            "Invalid input received: New size for extend must be greater than current size. "
            f"(current: {volume.size}, extended: {new_size})."
        )
    with transaction.atomic():
        check_quota(volume.project_id, 0, new_size - volume.size, size=new_size)
        require(
            volume.pk,
            VolumeStatus.AVAILABLE,
            VolumeStatus.EXTENDING,
            "extend",
            previous_status=VolumeStatus.AVAILABLE,
            pending={"size": new_size},
        )
        enqueue("instances.extend_volume", str(volume.pk), queue=VOLUME_QUEUE)


def finish_extend(volume_id) -> bool:
    volume = Volume.objects.filter(pk=volume_id, deleted=False, status=VolumeStatus.EXTENDING).first()
    if volume is None:
        return False
    size = int(volume.pending.get("size", volume.size))
    try:
        backend().extend(volume.path, volume.format, size)
    except VolumeBackendError as exc:
        log.warning("extending volume %s failed: %s", volume_id, exc)
        return transition(
            volume_id,
            VolumeStatus.EXTENDING,
            VolumeStatus.AVAILABLE,
            pending={},
            error_message=str(exc)[:255],
        )
    return transition(volume_id, VolumeStatus.EXTENDING, VolumeStatus.AVAILABLE, size=size, pending={})


# --- delete -----------------------------------------------------------------------------------


def begin_delete(ctx, volume: Volume) -> None:
    with transaction.atomic():
        if VolumeAttachment.objects.filter(volume_id=volume.pk).exists():
            raise InvalidVolume(
                f"Invalid volume: Volume {volume.pk} is attached to an instance; "
                "detach it before deleting it."
            )
        require(volume.pk, DELETABLE, VolumeStatus.DELETING, "delete it", previous_status=volume.status)
        enqueue("instances.delete_volume", str(volume.pk), queue=VOLUME_QUEUE)


def finish_delete(volume_id) -> bool:
    volume = Volume.objects.filter(pk=volume_id, deleted=False, status=VolumeStatus.DELETING).first()
    if volume is None:
        return False
    try:
        backend().delete(volume.path)
    except OSError as exc:
        log.warning("deleting volume %s failed: %s", volume_id, exc)
        return transition(
            volume_id, VolumeStatus.DELETING, VolumeStatus.ERROR_DELETING, error_message=str(exc)[:255]
        )
    now = timezone.now()
    return bool(
        Volume.objects.filter(pk=volume_id, deleted=False, status=VolumeStatus.DELETING).update(
            deleted=True, deleted_at=now, updated_at=now
        )
    )
