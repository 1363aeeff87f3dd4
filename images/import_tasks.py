"""The task records of imports (Glance's tasks, ``GET /v2/images/{id}/tasks``): one is written
with the import request, the worker marks it processing when it claims the import, and the end
of the import (active, or back to queued or killed) closes it with its result or its reason.
An image runs one import at a time, so the image's open task is the import's."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from images.models import ImageTask

OPEN = (ImageTask.Status.PENDING, ImageTask.Status.PROCESSING)


def record(
    image_id, task_type: str, task_input: dict, *, owner: str, user_id: str = "", request_id: str = ""
) -> ImageTask:
    """A pending task for the import being requested (call in the request's transaction)."""
    return ImageTask.objects.create(
        type=task_type,
        image_id=str(image_id) if image_id else "",
        owner=owner,
        user_id=user_id or "",
        request_id=request_id or "",
        input=task_input,
    )


def processing(image_id) -> None:
    ImageTask.objects.filter(image_id=str(image_id), status=ImageTask.Status.PENDING).update(
        status=ImageTask.Status.PROCESSING, updated_at=timezone.now()
    )


def _close(image_id, status: str, **fields) -> None:
    now = timezone.now()
    ImageTask.objects.filter(image_id=str(image_id), status__in=OPEN).update(
        status=status,
        updated_at=now,
        expires_at=now + timedelta(seconds=settings.IMAGE_TASK_TIME_TO_LIVE),
        **fields,
    )


def succeeded(image_id) -> None:
    _close(image_id, ImageTask.Status.SUCCESS, result={"image_id": str(image_id)})


def failed(image_id, message: str) -> None:
    _close(image_id, ImageTask.Status.FAILURE, message=message[:2000])


def delete_expired(now=None) -> int:
    return ImageTask.objects.filter(expires_at__lt=now or timezone.now()).delete()[0]
