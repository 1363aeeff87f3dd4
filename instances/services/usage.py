"""Usage of projects over a period (Nova's os-simple-tenant-usage, the dashboard's Usage Summary):
instance hours, vCPU hours, RAM MB-hours and disk GB-hours.

Hours come from each instance's recorded life: from ``launched_at`` to ``terminated_at`` (or now),
cut to the period. Unlike Nova, which charges the whole life at the latest flavor, each stretch
is charged with the sizes the instance had then: ``InstanceSizeChange`` records every change
(a resize begins, or is rolled back) with the sizes before and after. Two queries for any number
of instances: the instances, then all their size changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from instances.choices import VmState
from instances.models import Instance, InstanceSizeChange


@dataclass
class ServerUsage:
    instance_id: str
    name: str
    project_id: str
    flavor: str
    vcpus: int
    memory_mb: int
    local_gb: int
    started_at: datetime
    ended_at: datetime | None
    state: str
    uptime: int  # seconds, from launch to termination or now
    hours: float = 0.0
    vcpu_hours: float = 0.0
    memory_mb_hours: float = 0.0
    local_gb_hours: float = 0.0


@dataclass
class ProjectUsage:
    project_id: str
    start: datetime
    stop: datetime
    servers: list[ServerUsage] = field(default_factory=list)

    @property
    def total_hours(self) -> float:
        return sum(s.hours for s in self.servers)

    @property
    def total_vcpus_usage(self) -> float:
        return sum(s.vcpu_hours for s in self.servers)

    @property
    def total_memory_mb_usage(self) -> float:
        return sum(s.memory_mb_hours for s in self.servers)

    @property
    def total_local_gb_usage(self) -> float:
        return sum(s.local_gb_hours for s in self.servers)

    @property
    def total_ram_gb_hours(self) -> float:
        return self.total_memory_mb_usage / 1024


class BadPeriod(ValueError):
    pass


def check_period(start: datetime, stop: datetime) -> None:
    if stop < start:
        raise BadPeriod("The end of the period cannot come before its start.")


def instances_in(start: datetime, stop: datetime, project_ids: Iterable[str] | None = None) -> QuerySet:
    """Instances that ran during [start, stop), deleted ones included, with their size changes."""
    qs = Instance.objects.filter(launched_at__isnull=False, launched_at__lt=stop).filter(
        Q(terminated_at__isnull=True) | Q(terminated_at__gt=start)
    )
    if project_ids is not None:
        qs = qs.filter(project_id__in=list(project_ids))
    return qs.order_by("created_at", "id").prefetch_related(
        Prefetch("size_changes", queryset=InstanceSizeChange.objects.order_by("at", "id"))
    )


def _hours(a: datetime, b: datetime) -> float:
    return max(0.0, (b - a).total_seconds() / 3600)


def server_usage(instance: Instance, start: datetime, stop: datetime, now: datetime) -> ServerUsage:
    ended = instance.terminated_at
    end = min(ended or now, stop, now)
    changes = list(instance.size_changes.all())
    current = InstanceSizeChange.of(instance)
    # Stretches of the instance's life, each with the sizes it had: before the first change the
    # sizes that change started from; after each change, the sizes it set.
    bounds = [instance.launched_at] + [c.at for c in changes] + [end]
    sizes = [changes[0].before if changes else current] + [c.after for c in changes]
    usage = ServerUsage(
        instance_id=str(instance.pk),
        name=instance.name,
        project_id=instance.project_id,
        flavor=instance.flavor_name,
        vcpus=instance.vcpus,
        memory_mb=instance.memory_mb,
        local_gb=instance.root_gb + instance.ephemeral_gb,
        started_at=instance.launched_at,
        ended_at=ended,
        state="terminated" if ended or instance.vm_state == VmState.DELETED else instance.vm_state,
        uptime=int(((ended or now) - instance.launched_at).total_seconds()),
    )
    for begin, finish, size in zip(bounds, bounds[1:], sizes, strict=False):
        hours = _hours(max(begin, start, instance.launched_at), min(finish, end))
        usage.hours += hours
        usage.vcpu_hours += size["vcpus"] * hours
        usage.memory_mb_hours += size["memory_mb"] * hours
        usage.local_gb_hours += size["local_gb"] * hours
    return usage


def usage_by_project(
    start: datetime,
    stop: datetime,
    project_ids: Iterable[str] | None = None,
    instances: Iterable[Instance] | None = None,
) -> dict[str, ProjectUsage]:
    """Each project's usage in [start, stop) (projects without instances in it are left out).
    ``instances`` may be a page of ``instances_in`` (the API pages by instance)."""
    check_period(start, stop)
    now = timezone.now()
    out: dict[str, ProjectUsage] = {}
    for instance in instances if instances is not None else instances_in(start, stop, project_ids):
        project = out.setdefault(instance.project_id, ProjectUsage(instance.project_id, start, stop))
        project.servers.append(server_usage(instance, start, stop, now))
    return out


def project_usage(project_id: str, start: datetime, stop: datetime) -> ProjectUsage:
    return usage_by_project(start, stop, [project_id]).get(project_id) or ProjectUsage(
        project_id, start, stop
    )
