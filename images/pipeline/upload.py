"""The synchronous paths: PUT /file straight into the store, and PUT /stage into staging."""

from __future__ import annotations

import logging

from django.conf import settings

from dashboard.exceptions import BadRequest, Conflict, StratusError
from images import services
from images.choices import ImageStatus
from images.models import Image
from images.pipeline.errors import PipelineError
from images.pipeline.ingest import Ingest
from images.pipeline.verify import check_content, check_with_qemu
from images.quotas import Reserver
from images.staging import staging_path, write_staging
from images.stores import StoreError, default_store
from images.stores.filesystem import FilesystemStore

log = logging.getLogger(__name__)


def upload(image: Image, chunks, expected_size: int | None) -> None:
    """queued → saving → active; on any failure the data is removed and the image is queued again."""
    if not image.disk_format or not image.container_format:
        raise BadRequest("Set disk_format and container_format before uploading data.")
    if image.container_format == "ova":
        # The disk has to come out of the tar and be checked on its own: that is the import's job.
        raise BadRequest("OVA images are imported: stage the file (PUT /stage), then import it.")
    services.begin_upload(image)
    store = default_store()
    key = str(image.pk)
    ingest = Ingest(
        chunks, max_bytes=settings.IMAGE_MAX_SIZE, expected_size=expected_size, on_progress=Reserver(image)
    )
    try:
        store.put(key, ingest)
        result = ingest.result
        fmt, virtual_size = check_content(
            result.inspectors, image.disk_format, image.container_format, result.size
        )
        if isinstance(store, FilesystemStore):
            virtual_size = check_with_qemu(store.path(key), fmt) or virtual_size
        services.finish_upload(image, ingest.result, store.name, key, virtual_size)
    except BaseException as exc:
        # Whatever stopped the upload (bad content, quota, a client that went away), no partial
        # data may stay behind and the image must be retryable.
        _discard(store, key)
        services.fail_upload(image.pk, _reason(exc))
        raise


def stage(image: Image, chunks, expected_size: int | None) -> None:
    """queued → uploading with the bytes in staging; import (a worker) inspects them later."""
    services.begin_upload(image, to=ImageStatus.UPLOADING)
    ingest = Ingest(
        chunks,
        max_bytes=settings.IMAGE_MAX_SIZE,
        expected_size=expected_size,
        on_progress=Reserver(image, staging=True),
        inspect=False,
    )
    try:
        write_staging(image.pk, ingest)
        if not Image.objects.filter(pk=image.pk, status=ImageStatus.UPLOADING).exists():
            # The sweeper gave up on this upload (or the image was deleted) while bytes arrived.
            raise Conflict("The image left the uploading state while its data was being staged.")
    except BaseException as exc:
        staging_path(image.pk).unlink(missing_ok=True)
        services.fail_upload(image.pk, _reason(exc), expected=ImageStatus.UPLOADING)
        raise


def _discard(store, key: str) -> None:
    try:
        store.delete(key)
    except StoreError:
        log.warning("Could not remove partial data %s from store %s; the sweeper will retry", key, store.name)


def _reason(exc: BaseException) -> str:
    # Only our own errors carry messages written for users; anything else could hold paths.
    if isinstance(exc, PipelineError | StratusError | StoreError) and str(exc):
        return f"Upload failed: {exc}"
    return "Upload failed: the transfer was interrupted."
