"""Per-project instance quotas (instances, cores, ram). Usage is counted from the live instances,
so releasing a quota is simply deleting the instance. Checks run under the project's row lock,
in the transaction that inserts the instances, so parallel launches never overshoot."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from dashboard.exceptions import Forbidden
from dashboard.models import Project
from instances.models import ComputeQuota, ComputeQuotaClass, Instance

RESOURCES = ("instances", "cores", "ram")
# Counted apart: groups per project, members per group (Nova reports 0 in use for the latter).
GROUP_RESOURCES = ("server_groups", "server_group_members")
# Nova's limits on file injection and on nova-network resources: reported, and kept as an admin
# sets them in the default quota class, but nothing counts against them (Stratus refuses file
# injection, and networks are its own).
INJECTION_LIMITS = {
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}
NETWORK_LIMITS = {"floating_ips": 10, "fixed_ips": -1, "security_groups": 10, "security_group_rules": 20}
# What the default quota class holds.
CLASS_RESOURCES = (
    *RESOURCES,
    *GROUP_RESOURCES,
    "metadata_items",
    "key_pairs",
    *INJECTION_LIMITS,
    *NETWORK_LIMITS,
)
DEFAULT_CLASS = "default"


class OverQuota(Forbidden):
    """Nova answers 403 with "Quota exceeded for …"."""


@dataclass(frozen=True)
class Usage:
    instances: int
    cores: int
    ram: int


def defaults() -> dict[str, int]:
    """Every default limit: the settings, overridden by the default quota class."""
    values = {
        "instances": settings.COMPUTE_QUOTA_INSTANCES,
        "cores": settings.COMPUTE_QUOTA_CORES,
        "ram": settings.COMPUTE_QUOTA_RAM,
        "server_groups": settings.COMPUTE_QUOTA_SERVER_GROUPS,
        "server_group_members": settings.COMPUTE_QUOTA_SERVER_GROUP_MEMBERS,
        "metadata_items": settings.COMPUTE_QUOTA_METADATA_ITEMS,
        "key_pairs": settings.COMPUTE_QUOTA_KEY_PAIRS,
        **INJECTION_LIMITS,
        **NETWORK_LIMITS,
    }
    row = ComputeQuotaClass.objects.filter(name=DEFAULT_CLASS).values(*CLASS_RESOURCES).first()
    values.update({k: v for k, v in (row or {}).items() if v is not None})
    return values


def set_class_defaults(values: dict[str, int]) -> dict[str, int]:
    """Change the default quota class (Nova's PUT os-quota-class-sets/default)."""
    with transaction.atomic():
        row, _ = ComputeQuotaClass.objects.select_for_update().get_or_create(name=DEFAULT_CLASS)
        for name, value in values.items():
            setattr(row, name, value)
        row.save()
    return defaults()


def limits_for(project_id: str) -> dict[str, int]:
    limits = defaults()
    override = ComputeQuota.objects.filter(project_id=project_id).first()
    if override is not None:
        for name in (*RESOURCES, *GROUP_RESOURCES):
            value = getattr(override, name)
            if value is not None:
                limits[name] = value
    return limits


def usage_of(project_id: str) -> Usage:
    row = Instance.objects.for_project(project_id).aggregate(
        instances=Count("pk"), cores=Coalesce(Sum("vcpus"), 0), ram=Coalesce(Sum("memory_mb"), 0)
    )
    return Usage(instances=row["instances"], cores=row["cores"], ram=row["ram"])


def allowed_count(project_id: str, vcpus: int, ram: int, min_count: int, max_count: int) -> int:
    """How many instances of this size fit (at most ``max_count``); OverQuota if not ``min_count``.
    Call inside the launch transaction after ``Project.objects.lock``."""
    limits, used = limits_for(project_id), usage_of(project_id)
    fits = max_count
    need = {"instances": 1, "cores": vcpus, "ram": ram}
    for name in RESOURCES:
        limit = limits[name]
        if limit < 0 or need[name] == 0:
            continue
        fits = min(fits, (limit - getattr(used, name)) // need[name])
    if fits < min_count:
        over = [
            name
            for name in RESOURCES
            if limits[name] >= 0 and getattr(used, name) + need[name] * min_count > limits[name]
        ]
        detail = ", ".join(
            f"{name} (requested {need[name] * min_count}, used {getattr(used, name)}, limit {limits[name]})"
            for name in over
        )
        raise OverQuota(f"Quota exceeded for {', '.join(over)}: Requested {detail}.")
    return fits


def set_limits(project: Project, values: dict[str, int]) -> dict[str, int]:
    quota, _ = ComputeQuota.objects.get_or_create(project=project)
    for name, value in values.items():
        setattr(quota, name, value)
    quota.save()
    return limits_for(project.pk)


def reset_limits(project_id: str) -> None:
    """Nova's DELETE of a quota set: the project's limits go back to the defaults."""
    ComputeQuota.objects.filter(project_id=project_id).delete()
