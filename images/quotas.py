"""Per-project image quotas, enforced hard: every check and its reservation happen under the
project's row lock (SQLite serialises writers anyway), so concurrent uploads cannot overshoot.
The image count and storage limits live in ``dashboard.quotas`` (``register``); the staging and
in-flight caps stay settings."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from dashboard import quotas as project_quotas
from dashboard.exceptions import RequestEntityTooLarge
from dashboard.models import Project
from images.choices import IN_FLIGHT, ImageStatus
from images.models import Image

# Reservations grow in steps so a 1 GiB upload costs a handful of queries, not one per chunk.
RESERVATION_STEP = 64 * 1024 * 1024


class OverQuota(RequestEntityTooLarge):
    pass


def _limited(limit: int) -> bool:
    return limit >= 0


def register() -> None:
    """Put the image count and storage in the project quotas (from ``ImagesConfig.ready``)."""
    project_quotas.register(
        project_quotas.Resource(
            "images", "Images", "Image", lambda: settings.IMAGE_QUOTA_COUNT, _image_count, 20
        )
    )
    project_quotas.register(
        project_quotas.Resource(
            "image_storage",
            "Image Storage (GiB)",
            "Image",
            lambda: settings.IMAGE_QUOTA_BYTES,
            _stored_bytes,
            21,
            scale=project_quotas.GIB,
        )
    )


def _image_count(project_id: str | None) -> int:
    return Image.objects.alive().filter(owner=project_id).count()


def _stored_bytes(project_id: str | None) -> int:
    usage = _usage(project_id)
    return usage["stored"] + usage["reserved"]


def _limit(project_id: str | None, name: str) -> int:
    return project_quotas.limits(project_id)[name]


def check_image_count(project_id: str | None) -> None:
    limit = _limit(project_id, "images")
    if _limited(limit) and _image_count(project_id) >= limit:
        raise OverQuota(f"Image count quota of {limit} reached for this project.")


def check_uploads_in_flight(project_id: str | None) -> None:
    limit = settings.IMAGE_QUOTA_UPLOADS
    in_flight = Image.objects.filter(owner=project_id, status__in=IN_FLIGHT).count()
    if _limited(limit) and in_flight >= limit:
        raise OverQuota(f"This project already has {in_flight} uploads in progress (limit {limit}).")


def _usage(project_id: str | None) -> dict[str, int]:
    return Image.objects.filter(owner=project_id).aggregate(
        stored=Coalesce(Sum("size", filter=Q(status__in=(ImageStatus.ACTIVE, ImageStatus.DEACTIVATED))), 0),
        reserved=Coalesce(Sum("reserved_bytes"), 0),
        staged=Coalesce(
            Sum("reserved_bytes", filter=Q(status__in=(ImageStatus.UPLOADING, ImageStatus.IMPORTING))), 0
        ),
    )


def reserve(image: Image, needed: int, *, staging: bool) -> int:
    """Make the image's reservation cover ``needed`` bytes; returns the new reservation."""
    with transaction.atomic():
        Project.objects.lock(image.owner)
        current = Image.objects.filter(pk=image.pk).values_list("reserved_bytes", flat=True).first() or 0
        if needed <= current:
            return current
        usage = _usage(image.owner)
        others = usage["stored"] + usage["reserved"] - current
        staged_others = usage["staged"] - (current if staging else 0)
        want = max(needed, min(current + RESERVATION_STEP, needed + RESERVATION_STEP))
        limit = _limit(image.owner, "image_storage")
        for _ in range(2):
            over_total = _limited(limit) and others + want > limit
            over_staging = (
                staging
                and _limited(settings.IMAGE_QUOTA_STAGING_BYTES)
                and staged_others + want > settings.IMAGE_QUOTA_STAGING_BYTES
            )
            if not (over_total or over_staging):
                Image.objects.filter(pk=image.pk).update(reserved_bytes=want, updated_at=timezone.now())
                return want
            want = needed  # try the exact amount before refusing
        what = "staging" if over_staging else "storage"
        raise OverQuota(f"The project's image {what} quota would be exceeded by this upload.")


class Reserver:
    """An ``on_progress`` hook for the pipeline: keeps the reservation ahead of the bytes."""

    def __init__(self, image: Image, *, staging: bool = False):
        self.image, self.staging, self.reserved = image, staging, 0

    def __call__(self, total: int) -> None:
        if total > self.reserved:
            self.reserved = reserve(self.image, total, staging=self.staging)


def usage_for(project_id: str | None) -> dict[str, int]:
    """The project's image count and stored-plus-reserved bytes, with their limits (for the
    Overview charts; -1 means unlimited)."""
    limits = project_quotas.limits(project_id)
    return {
        "count": _image_count(project_id),
        "count_limit": limits["images"],
        "bytes": _stored_bytes(project_id),
        "bytes_limit": limits["image_storage"],
    }
