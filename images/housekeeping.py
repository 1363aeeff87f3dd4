"""Periodic repair: imports whose worker died, uploads that stalled, and orphaned files."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from images import import_tasks, services
from images.choices import ImageStatus
from images.models import Image, ImageLocation
from images.staging import staging_dir, staging_path
from images.stores import StoreError, all_stores

log = logging.getLogger(__name__)
LIVE_STAGING = (ImageStatus.UPLOADING, ImageStatus.IMPORTING)


def sweep() -> dict:
    return {
        "imports": recover_imports(),
        "uploads": recover_stalled_uploads(),
        "staging": clean_staging(),
        "store": clean_stores(),
        "tasks": import_tasks.delete_expired(),
    }


def recover_imports() -> int:
    """Re-queue imports whose lease lapsed (or that no worker ever claimed); give up after N tries."""
    now = timezone.now()
    unclaimed_since = now - timedelta(seconds=settings.IMAGE_IMPORT_LEASE)
    stuck = (
        Image.objects.filter(import_method__gt="", status__in=(ImageStatus.IMPORTING, ImageStatus.ACTIVE))
        .filter(
            Q(lease_owner__gt="", lease_expires_at__lt=now)
            | Q(lease_owner="", updated_at__lt=unclaimed_since)
        )
        .values_list("pk", "import_attempts")
    )
    count = 0
    for image_id, attempts in stuck:
        count += 1
        if attempts >= settings.IMAGE_IMPORT_MAX_ATTEMPTS:
            services.fail_import(
                str(image_id), None, "Import failed: it was interrupted too many times.", kill=True
            )
        else:
            Image.objects.filter(pk=image_id, lease_owner="").update(updated_at=now)
            services.enqueue_import(str(image_id))
    return count


def recover_stalled_uploads() -> int:
    """Uploads whose web process died (or whose client stopped sending): saving or uploading
    images untouched for the stall timeout go back to queued, and only once that transition is
    ours are their partial bytes removed."""
    cutoff = timezone.now() - timedelta(seconds=settings.IMAGE_UPLOAD_STALL_TIMEOUT)
    recovered = 0
    saving = Image.objects.filter(status=ImageStatus.SAVING, updated_at__lt=cutoff)
    for image_id in list(saving.values_list("pk", flat=True)):
        if not services.fail_upload(image_id, "Upload failed: the transfer stalled.", unchanged_since=cutoff):
            continue  # it moved on meanwhile (finished, failed, deleted): its data is not ours to touch
        recovered += 1
        for store in all_stores().values():
            if (
                store.writable
                and not ImageLocation.objects.filter(image_id=image_id, store=store.name).exists()
            ):
                _delete(store, str(image_id))
    # Resumable uploads wait for their client until they expire (images.resumable.expire).
    staging = Image.objects.filter(
        status=ImageStatus.UPLOADING, updated_at__lt=cutoff, resumable_upload__isnull=True
    ).values_list("pk", flat=True)
    for image_id in list(staging):
        path = staging_path(image_id)
        if _written_since(path, cutoff):
            continue  # bytes are still arriving (reservations touch the row only every few MiB)
        if not services.fail_upload(
            image_id,
            "Staging failed: the transfer stalled; stage the image again.",
            expected=ImageStatus.UPLOADING,
            unchanged_since=cutoff,
        ):
            continue
        recovered += 1
        path.unlink(missing_ok=True)
    return recovered


def _written_since(path, cutoff) -> bool:
    try:
        return path.stat().st_mtime > cutoff.timestamp()
    except FileNotFoundError:
        return False


def _image_id(name: str) -> uuid.UUID | None:
    stem = name.removesuffix(".converted").removesuffix(".disk")
    try:
        return uuid.UUID(stem) if len(stem) == 36 else None
    except ValueError:
        return None


def clean_staging() -> int:
    """Staging files of missing, deleted or no-longer-staging images go; others (and non-UUID
    names, which are not ours) stay."""
    removed = 0
    for path in staging_dir().iterdir():
        image_id = _image_id(path.name)
        if image_id is None or not path.is_file():
            continue
        status = Image.objects.filter(pk=image_id).values_list("status", flat=True).first()
        if status not in LIVE_STAGING:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def clean_stores() -> int:
    """Objects in a store that no image location accounts for (a crash between write and commit)."""
    removed = 0
    busy = (ImageStatus.SAVING, ImageStatus.IMPORTING)
    for store in all_stores().values():
        if not store.writable:
            continue
        try:
            keys = list(store.keys())
        except StoreError:
            log.warning("Could not list store %s", store.name)
            continue
        for key in keys:
            image_id = _image_id(key)
            if image_id is None:
                continue
            if ImageLocation.objects.filter(image_id=image_id, store=store.name).exists():
                continue
            writing = Q(status__in=busy) | Q(status=ImageStatus.ACTIVE, import_method__gt="")
            if Image.objects.filter(writing, pk=image_id).exists():
                continue
            removed += _delete(store, key)
    return removed


def _delete(store, key: str) -> int:
    try:
        store.delete(key)
    except StoreError:
        log.warning("Could not remove %s from store %s", key, store.name)
        return 0
    return 1
