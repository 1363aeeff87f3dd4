"""Resumable uploads (the tus protocol, images/api/uploads.py) into an image's staging area.

The staged file and the ``offset`` in the database are the whole state: a request appends at the
offset, fsyncs, and only then moves the offset with a conditional UPDATE. So a dropped connection,
a reload of the page or a restart of the web server loses at most the bytes of the last unsynced
chunk, and any process can take the upload over. Two requests racing at the same offset write the
same bytes of the same file to the same place, and the offset only ever moves forward over bytes
that are on disk (a request whose chunk starts at or before the offset may extend it); so a
request that a dropped client left running on the server never spoils the one that replaced it.

The bytes stream through the pipeline's Ingest (count, cap) without hashing: see
images.pipeline.imports for where the hashes and the format inspection happen, and why."""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from dashboard.exceptions import BadRequest, Conflict, NotFound, StratusError
from images import quotas, services
from images.choices import ImageStatus, ImportMethod
from images.models import Image, ImageUpload
from images.pipeline.errors import TooLarge
from images.pipeline.ingest import Ingest
from images.staging import staging_path

log = logging.getLogger(__name__)


class Expired(StratusError):
    status = 410
    title = "Gone"


class _Counter:
    """Counts the bytes read from a request body, kept or not (resends are measured with it)."""

    def __init__(self, reader):
        self._reader, self.pending = reader, 0

    def readinto(self, buffer) -> int:
        n = self._reader.readinto(buffer)
        self.pending += n
        return n

    def take(self) -> int:
        n, self.pending = self.pending, 0
        return n

    def close(self) -> None:
        close = getattr(self._reader, "close", None)
        if close is not None:
            close()


def _expiry():
    return timezone.now() + timedelta(seconds=settings.IMAGE_UPLOAD_EXPIRY)


def create(image: Image, length: int, metadata: dict[str, str]) -> ImageUpload:
    """queued → uploading with an empty staged file, the whole length reserved against the quotas."""
    if not image.disk_format or not image.container_format:
        raise BadRequest("Set disk_format and container_format before uploading data.")
    if length > settings.IMAGE_MAX_SIZE:
        raise TooLarge(f"The image is larger than the limit of {settings.IMAGE_MAX_SIZE} bytes.")
    with transaction.atomic():
        ImageUpload.objects.filter(image=image).delete()  # a finished one whose import ended
        services.begin_upload(image, to=ImageStatus.UPLOADING)
        quotas.reserve(image, length, staging=True)
        upload = ImageUpload.objects.create(
            image=image, length=length, metadata=metadata, expires_at=_expiry()
        )
    path = staging_path(image.pk)
    with open(path, "wb"):
        pass  # a leftover of an earlier attempt is emptied
    if length == 0:
        finish(upload)
    return upload


def find(image: Image, upload_id) -> ImageUpload:
    upload = ImageUpload.objects.filter(pk=upload_id, image=image).first()
    if upload is None:
        raise NotFound("No such upload.")
    if upload.expires_at < timezone.now() and not upload.complete:
        raise Expired("The upload expired; start it again.")
    return upload


def append(upload: ImageUpload, offset: int, body, content_length: int | None) -> int:
    """Write the body at ``offset`` (which must be the upload's offset) and return the new offset.
    A body that ends early keeps what arrived up to the last synced chunk."""
    if offset != upload.offset:
        raise Conflict(f"Upload-Offset {offset} does not match the upload's offset {upload.offset}.")
    image_status = Image.objects.filter(pk=upload.image_id).values_list("status", flat=True).first()
    if image_status != ImageStatus.UPLOADING:
        raise Conflict(f"Image status is {image_status}; the upload is over.")
    remaining = upload.length - offset
    if content_length is not None and content_length > remaining:
        raise BadRequest(f"The body is longer than the {remaining} bytes the upload still expects.")
    counter = _Counter(body)
    ingest = Ingest(counter, max_bytes=remaining, inspect=False, hash=False)
    position = offset
    fd = os.open(staging_path(upload.image_id), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in ingest:
            written = 0
            while written < len(chunk):
                written += os.pwrite(fd, chunk[written:], position + written)
            # On disk before the offset says so: a crash must never leave an offset past the data.
            os.fdatasync(fd)
            # [0, offset) and [position, position + written) are on disk and position <= offset.
            moved = ImageUpload.objects.filter(pk=upload.pk, offset__gte=position).update(
                offset=Greatest(F("offset"), position + written),
                received=F("received") + counter.take(),
                expires_at=_expiry(),
            )
            if not moved:
                raise Conflict("The upload was terminated, or its offset is behind this request.")
            position += written
    finally:
        os.close(fd)
        if counter.pending:
            ImageUpload.objects.filter(pk=upload.pk).update(received=F("received") + counter.take())
    upload.refresh_from_db(fields=["offset"])
    if upload.complete and position == upload.length:
        finish(upload)
    return upload.offset


def finish(upload: ImageUpload) -> None:
    """All bytes are staged: the staged file gets its exact length (a cut request can leave bytes
    past the offset) and, when the client asked for it, the glance-direct import starts."""
    os.truncate(staging_path(upload.image_id), upload.length)
    if upload.metadata.get("import") == ImportMethod.GLANCE_DIRECT:
        image = Image.objects.get(pk=upload.image_id)
        if image.status == ImageStatus.UPLOADING:
            # A request that wrote the same last bytes may have started it first.
            with contextlib.suppress(Conflict):
                services.start_import(image, ImportMethod.GLANCE_DIRECT)


def terminate(upload: ImageUpload, reason: str) -> None:
    """The termination extension: the staged bytes go, the image is queued again with the reason
    and without its reservation."""
    with transaction.atomic():
        moved = services.fail_upload(upload.image_id, reason, expected=ImageStatus.UPLOADING)
        deleted, _ = ImageUpload.objects.filter(pk=upload.pk).delete()
    if not moved:
        if not deleted:
            raise NotFound("No such upload.")
        raise Conflict("The upload is complete; abort the import instead.")
    staging_path(upload.image_id).unlink(missing_ok=True)


def expire() -> int:
    """Unfinished uploads that received nothing for STRATUS_IMAGE_UPLOAD_EXPIRY seconds: their
    images are queued again and their staged bytes removed (a Celery beat task). A finished upload
    whose image went on to an import only loses its record."""
    count = 0
    for upload in ImageUpload.objects.filter(expires_at__lt=timezone.now()):
        with transaction.atomic():
            # Only if no byte arrived since it was read: a request that just moved it on keeps it.
            gone, _ = ImageUpload.objects.filter(pk=upload.pk, expires_at__lt=timezone.now()).delete()
            moved = gone and services.fail_upload(
                upload.image_id,
                "Upload expired: no data arrived for a while; upload the file again.",
                expected=ImageStatus.UPLOADING,
            )
        if moved:
            staging_path(upload.image_id).unlink(missing_ok=True)
            count += 1
        elif gone:
            log.info("Forgot the finished upload of image %s", upload.image_id)
    return count


def abort(image: Image) -> str:
    """Stop whatever moves the image's bytes: a resumable upload (terminated), a staging PUT in
    flight, or a running import or conversion (the worker stops within a second and removes its
    files). The image is queued again with the reason and without its reservation. Returns what
    was stopped, for the message; Conflict when nothing was running."""
    upload = ImageUpload.objects.filter(image=image).first()
    if image.status == ImageStatus.UPLOADING and upload is not None and not upload.complete:
        terminate(upload, "Upload aborted: the partial data was removed; upload the file again.")
        return "upload"
    if image.status == ImageStatus.UPLOADING:
        # A PUT /stage still streaming notices the status change when its body ends, and removes
        # its file; a finished one waits for an import that will not come.
        if not services.fail_upload(image.pk, "Upload aborted.", expected=ImageStatus.UPLOADING):
            raise Conflict("The upload already ended.")
        ImageUpload.objects.filter(image=image).delete()
        staging_path(image.pk).unlink(missing_ok=True)
        return "upload"
    services.abort_processing(image, "Processing aborted: upload or import the image again.")
    return "processing"
