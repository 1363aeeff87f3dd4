"""The Project → Overview section of the instances app: quota charts (instances, vCPUs, RAM,
images, image storage, volumes, volume storage) and a usage summary of the project, in a
constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.policy import can
from images import quotas as image_quotas
from instances import policies
from instances.choices import VmState
from instances.models import Instance
from instances.services import quotas, usage, volume_quotas
from instances.views.charts import Gauge


@dataclass(frozen=True)
class UsageSummary:
    since: datetime
    instances: int  # instances that ran at some point in the period
    vcpu_hours: float
    ram_gb_hours: float
    disk_gb_hours: float


def usage_summary(project_id: str, since: datetime, until: datetime) -> UsageSummary:
    """Resource-hours of the project's instances over [since, until], deleted ones included (as
    Horizon's Usage Summary counts them), from the usage service that the Usage panels and
    os-simple-tenant-usage use too."""
    found = usage.project_usage(project_id, since, until)
    return UsageSummary(
        since,
        len(found.servers),
        round(found.total_vcpus_usage, 2),
        round(found.total_memory_mb_usage / 1024, 2),
        round(found.total_local_gb_usage, 2),
    )


def quota_gauges(project_id: str) -> list[Gauge]:

    limits, used = quotas.limits_for(project_id), quotas.usage_of(project_id)
    images = image_quotas.usage_for(project_id)
    volume_limits, volumes = volume_quotas.quota_limits(project_id), volume_quotas.quota_usage(project_id)
    return [
        Gauge("instances", "Instances", used.instances, limits["instances"]),
        Gauge("cores", "vCPUs", used.cores, limits["cores"]),
        Gauge("ram", "RAM", used.ram * 1024 * 1024, _mb_limit(limits["ram"]), bytes=True),
        Gauge("images", "Images", images["count"], images["count_limit"]),
        Gauge("image_storage", "Image Storage", images["bytes"], images["bytes_limit"], bytes=True),
        Gauge("volumes", "Volumes", volumes["volumes"], volume_limits["volumes"]),
        Gauge(
            "volume_storage",
            "Volume Storage",
            volumes["gigabytes"] * 1024**3,
            _gb_limit(volume_limits["gigabytes"]),
            bytes=True,
        ),
    ]


def _mb_limit(limit: int) -> int:
    return limit if limit < 0 else limit * 1024 * 1024


def _gb_limit(limit: int) -> int:
    return limit if limit < 0 else limit * 1024**3


def status_counts(project_id: str) -> list[tuple[str, int]]:
    rows = (
        Instance.objects.for_project(project_id)
        .order_by()
        .values("vm_state")
        .annotate(n=Count("pk"))
        .values_list("vm_state", "n")
    )
    labels = dict(VmState.choices)
    return sorted(((labels.get(state, state), n) for state, n in rows), key=lambda r: -r[1])


def overview_section(request: HttpRequest) -> str:
    ctx = request.ctx
    if ctx.project is None or not can(ctx, policies.LIMITS):
        return ""
    now = timezone.now()
    since = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    context = {
        "gauges": quota_gauges(ctx.project_id),
        "usage": usage_summary(ctx.project_id, since, now),
        "states": status_counts(ctx.project_id),
        "can_list": can(ctx, policies.SERVERS_DETAIL),
    }
    return render_to_string("instances/overview_section.html", context, request=request)
