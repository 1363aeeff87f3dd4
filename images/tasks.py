"""Celery shells around the pipeline: they take ids, claim the work, and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from images import housekeeping, integrity, resumable, services
from images.pipeline.imports import run_import

log = logging.getLogger(__name__)


@shared_task(name="images.import_image", acks_late=True, reject_on_worker_lost=True)
def import_image(image_id: str) -> None:
    claim = services.claim_import(image_id)
    if claim is None:
        return  # finished, cancelled, or another worker holds a live lease
    owner, attempt = claim
    if attempt > settings.IMAGE_IMPORT_MAX_ATTEMPTS:
        # Every earlier attempt died (OOM, segfault, SIGKILL): stop the redelivery loop here.
        services.fail_import(image_id, owner, "Import failed: it was interrupted too many times.", kill=True)
        return
    run_import(image_id, owner)


@shared_task(name="images.sweep", acks_late=True)
def sweep() -> dict:
    return housekeeping.sweep()


@shared_task(name="images.expire_uploads", acks_late=True)
def expire_uploads() -> int:
    """Reclaim the staged bytes of resumable uploads that stopped receiving data (safe to run
    twice: each upload is removed by one conditional DELETE)."""
    return resumable.expire()


@shared_task(name="images.scrub", acks_late=True)
def scrub() -> dict:
    """A round of the scrubber. Safe to run twice or side by side: each image is claimed before
    it is read, and marking it corrupt (or intact again) happens once."""
    report = integrity.scrub(
        limit=settings.IMAGE_SCRUB_IMAGES_PER_RUN,
        # A round takes no new image once the next one is due, so rounds never pile up.
        budget=settings.IMAGE_SCRUB_INTERVAL or None,
    )
    return report.as_dict()


@worker_ready.connect
def _sweep_on_start(sender=None, **kwargs) -> None:
    # Like Glance at start-up: reclaim what a crashed predecessor left behind.
    sweep.delay()
