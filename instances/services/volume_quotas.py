"""Per-project volume quotas (volumes, gigabytes). Usage is counted from the live volumes, so
deleting a volume gives its quota back; checks run under the project's lock in the transaction
that inserts or grows a volume, so parallel requests never overshoot. The limits live in
``dashboard.quotas`` with every other app's."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from dashboard import quotas as project_quotas
from dashboard.exceptions import Forbidden
from dashboard.models import Project
from instances.models import Volume

QUOTA_RESOURCES = ("volumes", "gigabytes")


class VolumeOverQuota(Forbidden):
    """Cinder answers 413 for an exceeded volume quota."""

    status = 413


def register() -> None:
    """Put the volume resources in the project quotas (from ``InstancesConfig.ready``)."""
    for order, (name, label, default) in enumerate(
        (
            ("volumes", "Volumes", lambda: settings.VOLUME_QUOTA_VOLUMES),
            ("gigabytes", "Volume Storage (GiB)", lambda: settings.VOLUME_QUOTA_GIGABYTES),
        )
    ):
        project_quotas.register(
            project_quotas.Resource(
                name, label, "Volume", default, lambda p, name=name: quota_usage(p)[name], 30 + order
            )
        )


def quota_defaults() -> dict[str, int]:
    chosen = project_quotas.defaults()
    return {name: chosen[name] for name in QUOTA_RESOURCES}


def quota_limits(project_id: str) -> dict[str, int]:
    chosen = project_quotas.limits(project_id)
    return {name: chosen[name] for name in QUOTA_RESOURCES}


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
    project_quotas.set_limits(project, values)
    return quota_limits(project.pk)
