"""Per-project volume quotas (volumes, gigabytes, per_volume_gigabytes). Usage is counted from the
live volumes, so deleting a volume gives its quota back; checks run under the project's lock in
the transaction that inserts or grows a volume, so parallel requests never overshoot. The limits
live in ``dashboard.quotas`` with every other app's.

Cinder's quota set also names snapshots, backups, backup_gigabytes and groups. Stratus has none of
those resources: their limits are kept as numbers an admin may set, as Cinder keeps them, and
their usage is always 0 (UNUSED_RESOURCES)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from dashboard import quotas as project_quotas
from dashboard.exceptions import Forbidden
from dashboard.models import Project
from instances.models import Volume

# Enforced: the number of volumes and their GiB per project, and the size of one volume.
ENFORCED_RESOURCES = ("volumes", "gigabytes", "per_volume_gigabytes")
# Kept but never used: Stratus has no volume snapshots, backups or groups.
UNUSED_RESOURCES = ("snapshots", "backups", "backup_gigabytes", "groups")
QUOTA_RESOURCES = ENFORCED_RESOURCES + UNUSED_RESOURCES


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
    # The size of one volume: a limit on each request, not a usage.
    project_quotas.register(
        project_quotas.Resource(
            "per_volume_gigabytes",
            "Size of One Volume (GiB)",
            "Volume",
            lambda: settings.VOLUME_QUOTA_PER_VOLUME_GIGABYTES,
            None,
            32,
        )
    )
    for order, name in enumerate(UNUSED_RESOURCES):
        project_quotas.register(
            project_quotas.Resource(name, name, "Volume", lambda: 0, None, 40 + order, shown=False)
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
    return {
        "volumes": row["volumes"],
        "gigabytes": row["gigabytes"],
        "per_volume_gigabytes": 0,
        **dict.fromkeys(UNUSED_RESOURCES, 0),
    }


def check_quota(project_id: str, volumes: int, gigabytes: int, *, size: int | None = None) -> None:
    """Call inside the transaction that inserts or grows volumes, after locking the project.
    ``size``: the size in GiB the volume will have (checked against per_volume_gigabytes)."""

    Project.objects.lock(project_id)
    limits, used = quota_limits(project_id), quota_usage(project_id)
    per_volume = limits["per_volume_gigabytes"]
    if size is not None and per_volume >= 0 and size > per_volume:
        raise VolumeOverQuota(
            f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum allowed "
            f"limit {per_volume}G."
        )
    need = {"volumes": volumes, "gigabytes": gigabytes}
    for name in need:
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


def reset_quota(project_id: str) -> None:
    """Cinder's DELETE of a quota set: the project goes back to the defaults."""
    project_quotas.reset_limits(project_id, QUOTA_RESOURCES)
