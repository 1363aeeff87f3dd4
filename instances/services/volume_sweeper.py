"""The volume sweeper: nothing stays transitional forever. It spans volumes and their attachments,
so it sits above both service modules."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from instances.choices import VolumeStatus
from instances.models import Volume
from instances.services import attachments
from instances.services.volumes import transition


def sweep(now=None) -> dict[str, int]:
    """Nothing stays transitional forever: past VOLUME_TASK_TIMEOUT a volume being created or
    deleted goes to error / error_deleting; an attach that never finished is undone; a detach,
    extend or upload goes back to the status it came from."""

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.VOLUME_TASK_TIMEOUT)
    stuck = Volume.objects.alive().transitional().filter(status_changed_at__lt=cutoff)
    counts = {"errored": 0, "reverted": 0}
    reason = f"The volume was stuck for more than {settings.VOLUME_TASK_TIMEOUT} seconds."
    for volume in stuck:
        if volume.status == VolumeStatus.CREATING:
            counts["errored"] += transition(
                volume.pk, VolumeStatus.CREATING, VolumeStatus.ERROR, error_message=reason
            )
        elif volume.status == VolumeStatus.DELETING:
            counts["errored"] += transition(
                volume.pk, VolumeStatus.DELETING, VolumeStatus.ERROR_DELETING, error_message=reason
            )
        elif volume.status == VolumeStatus.ATTACHING:
            counts["reverted"] += attachments.undo_attach(volume.pk, reason)
        elif volume.status == VolumeStatus.DETACHING:
            counts["reverted"] += transition(
                volume.pk, VolumeStatus.DETACHING, VolumeStatus.IN_USE, error_message=reason
            )
        else:
            back = volume.previous_status or VolumeStatus.AVAILABLE
            counts["reverted"] += transition(volume.pk, volume.status, back, pending={}, error_message=reason)
    return counts
