"""Upload to Image: a volume's contents become a new image through the image service's one
upload pipeline (hashing, content checks, store, quota)."""

from __future__ import annotations

import logging

from django.db import transaction

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest, StratusError
from images import services as image_services
from images.choices import ImageStatus, Visibility
from images.models import Image
from images.pipeline.errors import PipelineError
from images.pipeline.upload import upload
from images.stores import StoreError
from instances.choices import VolumeStatus
from instances.compute.volume_backend import VolumeBackendError, backend
from instances.models import Volume
from instances.services.volumes import VOLUME_QUEUE, require, transition

log = logging.getLogger(__name__)


def begin_upload(
    ctx, volume: Volume, image_name: str, disk_format: str = "raw", container_format: str = "bare"
):
    """Cinder's os-volume_upload_image: a new image (queued, the caller's project) that a worker
    fills from the volume through the image service's upload pipeline."""

    if disk_format not in ("raw", "qcow2"):
        raise BadRequest(
            f"Invalid disk-format '{disk_format}' is specified. Allowed disk-formats are raw, qcow2."
        )
    if container_format != "bare":
        raise BadRequest(f"Invalid container-format '{container_format}' is specified; only bare.")
    properties = {
        k: v
        for k, v in volume.volume_image_metadata.items()
        if k.startswith("hw_") or k in ("architecture", "os_distro", "os_version")
    }
    with transaction.atomic():
        image = image_services.create_image(
            ctx.project_id,
            {
                "name": image_name,
                "disk_format": disk_format,
                "container_format": container_format,
                "visibility": Visibility.PRIVATE,
                "min_disk": volume.size,
            },
            properties,
            [],
        )
        require(
            volume.pk,
            VolumeStatus.AVAILABLE,
            VolumeStatus.UPLOADING,
            "upload it to an image",
            previous_status=VolumeStatus.AVAILABLE,
            pending={"image_id": str(image.pk)},
        )
        enqueue("instances.upload_volume", str(volume.pk), queue=VOLUME_QUEUE)
    return image


def finish_upload(volume_id) -> bool:

    volume = Volume.objects.filter(pk=volume_id, deleted=False, status=VolumeStatus.UPLOADING).first()
    if volume is None:
        return False
    image = Image.objects.filter(pk=volume.pending.get("image_id"), status=ImageStatus.QUEUED).first()
    error = ""
    if image is not None:
        tmp = None
        try:
            tmp, chunks = backend().read_as(volume.path, volume.format, image.disk_format)
            upload(image, chunks, tmp.stat().st_size)
        except (VolumeBackendError, PipelineError, StoreError, StratusError, OSError) as exc:
            log.warning("uploading volume %s to image %s failed: %s", volume_id, image.pk, exc)
            error = f"Upload to image failed: {exc}"[:255]
            failed = Image.objects.filter(pk=image.pk).exclude(status=ImageStatus.DELETED).first()
            if failed is not None:
                image_services.delete_image(failed)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    return transition(
        volume_id, VolumeStatus.UPLOADING, VolumeStatus.AVAILABLE, pending={}, error_message=error
    )
