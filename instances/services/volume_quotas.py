"""Per-project volume quotas (volumes, gigabytes). Usage is counted from the live volumes, so
deleting a volume gives its quota back; checks run under the project's lock in the transaction
that inserts or grows a volume, so parallel requests never overshoot."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from dashboard.exceptions import Forbidden
from dashboard.models import Project
from instances.models import Volume, VolumeQuota

QUOTA_RESOURCES = ("volumes", "gigabytes")


class VolumeOverQuota(Forbidden):
    """Cinder answers 413 for an exceeded volume quota."""

    status = 413


def quota_defaults() -> dict[str, int]:
    return {"volumes": settings.VOLUME_QUOTA_VOLUMES, "gigabytes": settings.VOLUME_QUOTA_GIGABYTES}


def quota_limits(project_id: str) -> dict[str, int]:
    limits = quota_defaults()
    override = VolumeQuota.objects.filter(project_id=project_id).first()
    for name in QUOTA_RESOURCES:
        value = getattr(override, name, None) if override is not None else None
        if value is not None:
            limits[name] = value
    return limits


def quota_usage(project_id: str) -> dict[str, int]:
    row = Volume.objects.for_project(project_id).aggregate(
        volumes=Count("pk"), gigabytes=Coalesce(Sum("size"), 0)
    )
    return {"volumes": row["volumes"], "gigabytes": row["gigabytes"]}


def check_quota(project_id: str, volumes: int, gigabytes: int) -> None:
    """Call inside the transaction that inserts or grows volumes, after locking the project."""

    Project.objects.lock(project_id)
    limits, used = quota_limits(project_id), quota_usage(project_id)
    need = {"volumes": volumes, "gigabytes": gigabytes}
    for name in QUOTA_RESOURCES:
        if limits[name] >= 0 and need[name] and used[name] + need[name] > limits[name]:
            raise VolumeOverQuota(
                f"VolumeSizeExceedsAvailableQuota: Requested {name} {need[name]}, "
                f"but already used {used[name]} of {limits[name]}."
                if name == "gigabytes"
                else f"VolumeLimitExceeded: Maximum number of volumes allowed ({limits[name]}) exceeded."
            )


def set_quota(project: Project, values: dict[str, int]) -> dict[str, int]:
    quota, _ = VolumeQuota.objects.get_or_create(project=project)
    for name, value in values.items():
        setattr(quota, name, value)
    quota.save()
    return quota_limits(project.pk)
