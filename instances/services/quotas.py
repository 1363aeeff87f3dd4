"""Per-project instance quotas (instances, cores, ram). Usage is counted from the live instances,
so releasing a quota is simply deleting the instance. Checks run under the project's row lock,
in the transaction that inserts the instances, so parallel launches never overshoot. The limits
live in ``dashboard.quotas`` with every other app's (``register`` puts the compute resources
there)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from dashboard import quotas as project_quotas
from dashboard.exceptions import Forbidden
from dashboard.models import Project
from instances.models import Instance, ServerGroup

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


# Nova's limits on file injection and on nova-network resources: reported, and kept as an admin
# sets them in the default quota class, but nothing counts against them (Stratus refuses file
# injection, and networks are its own).
INJECTION_LIMITS = {
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}
NETWORK_LIMITS = {"floating_ips": 10, "fixed_ips": -1, "security_groups": 10, "security_group_rules": 20}


def register() -> None:
    """Put the compute resources in the project quotas (from ``InstancesConfig.ready``)."""
    s = settings
    for order, (name, label, default, used) in enumerate(
        (
            ("instances", "Instances", lambda: s.COMPUTE_QUOTA_INSTANCES, lambda p: usage_of(p).instances),
            ("cores", "vCPUs", lambda: s.COMPUTE_QUOTA_CORES, lambda p: usage_of(p).cores),
            ("ram", "RAM (MiB)", lambda: s.COMPUTE_QUOTA_RAM, lambda p: usage_of(p).ram),
            # Key pairs are counted per user (each user of the project may have this many).
            ("key_pairs", "Key Pairs (per user)", lambda: s.COMPUTE_QUOTA_KEY_PAIRS, None),
            ("server_groups", "Server Groups", lambda: s.COMPUTE_QUOTA_SERVER_GROUPS, _server_groups),
            # Counted per group when a member joins.
            (
                "server_group_members",
                "Server Group Members",
                lambda: s.COMPUTE_QUOTA_SERVER_GROUP_MEMBERS,
                None,
            ),
        )
    ):
        project_quotas.register(project_quotas.Resource(name, label, "Compute", default, used, 10 + order))
    # Shown by the quota APIs and set through the default quota class, never counted: left out of
    # the forms.
    uncounted = {"metadata_items": lambda: s.COMPUTE_QUOTA_METADATA_ITEMS}
    uncounted.update(
        {name: (lambda v=value: v) for name, value in {**INJECTION_LIMITS, **NETWORK_LIMITS}.items()}
    )
    for order, (name, default) in enumerate(uncounted.items()):
        project_quotas.register(
            project_quotas.Resource(name, name, "Compute", default, None, 60 + order, shown=False)
        )


def _members_default() -> int:
    return settings.COMPUTE_QUOTA_SERVER_GROUP_MEMBERS


def _server_groups(project_id: str) -> int:
    return ServerGroup.objects.for_project(project_id).count()


def defaults() -> dict[str, int]:
    chosen = project_quotas.defaults()
    names = (*RESOURCES, *GROUP_RESOURCES, "key_pairs", "metadata_items", *INJECTION_LIMITS, *NETWORK_LIMITS)
    return {name: chosen[name] for name in names}


def limits_for(project_id: str) -> dict[str, int]:
    """The compute limits (and key_pairs, a per-user limit that the project sets)."""
    chosen = project_quotas.limits(project_id)
    return {name: chosen[name] for name in (*RESOURCES, *GROUP_RESOURCES, "key_pairs")}


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


def set_limits(project: Project, values: dict[str, int], *, force: bool = False) -> dict[str, int]:
    project_quotas.set_limits(project, values, force=force)
    return limits_for(project.pk)


def reset_limits(project_id: str) -> None:
    """Nova's DELETE of a quota set: the project's compute limits go back to the defaults."""
    project_quotas.reset_limits(project_id, (*RESOURCES, *GROUP_RESOURCES, "key_pairs"))
