"""Admin → Hypervisors: capacity of each compute host and of all of them, and the toggle that
takes a host out of scheduling."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.decorators import policy_required
from dashboard.policy import can
from instances import policies
from instances.models import ComputeHost
from instances.services import hosts as host_services
from instances.views.charts import Gauge


@dataclass
class HostCapacity:
    host: ComputeHost
    vcpus: Gauge
    ram: Gauge
    disk: Gauge

    @property
    def notes(self) -> dict[str, str]:
        """Physical size × allocation ratio, next to each bar."""
        h = self.host
        return {
            "vcpus": f"{h.vcpus} × {h.cpu_allocation_ratio:g}",
            "ram": f"{h.memory_mb} MB × {h.ram_allocation_ratio:g}",
            "disk": f"{h.local_gb} GB × {h.disk_allocation_ratio:g}",
        }

    @classmethod
    def of(cls, host: ComputeHost) -> HostCapacity:
        return cls(
            host,
            Gauge("vcpus", "vCPUs", host.vcpus_used, host.vcpus * host.cpu_allocation_ratio),
            Gauge("ram", "RAM", host.memory_mb_used, host.memory_mb * host.ram_allocation_ratio, "MB"),
            Gauge("disk", "Local disk", host.local_gb_used, host.local_gb * host.disk_allocation_ratio, "GB"),
        )


def summary(capacities: list[HostCapacity]) -> list[Gauge]:
    def total(attr: str) -> tuple[float, float]:
        return (
            sum(getattr(c, attr).used for c in capacities),
            sum(getattr(c, attr).limit for c in capacities),
        )

    return [
        Gauge("vcpus", "vCPU usage", *total("vcpus")),
        Gauge("ram", "Memory usage", *total("ram"), "MB"),
        Gauge("disk", "Local disk usage", *total("disk"), "GB"),
    ]


@policy_required(policies.HYPERVISORS_DETAIL)
def hypervisor_list(request: HttpRequest) -> HttpResponse:
    hosts = ComputeHost.objects.annotate(
        instance_count=Count("instances", filter=Q(instances__deleted=False))
    ).order_by("name")
    capacities = [HostCapacity.of(h) for h in hosts]
    return render(
        request,
        "instances/hypervisors/list.html",
        {
            "capacities": capacities,
            "summary": summary(capacities),
            "instances_total": sum(c.host.instance_count for c in capacities),
            "can_toggle": can(request.ctx, policies.SERVICES_UPDATE),
        },
    )


@require_POST
@policy_required(policies.HYPERVISORS_DETAIL)
def hypervisor_toggle(request: HttpRequest, host_id: int) -> HttpResponse:
    if not can(request.ctx, policies.SERVICES_UPDATE):
        raise PermissionDenied("You may not enable or disable compute hosts.")
    host = get_object_or_404(ComputeHost, pk=host_id)
    enable = request.POST.get("enable") == "1"
    reason = request.POST.get("reason", "").strip() or f"Disabled by {request.ctx.user.username}"
    host_services.set_enabled(host, enable, reason)
    messages.success(request, f"Compute host {host.name} is {'enabled' if enable else 'disabled'}.")
    return redirect("admin-hypervisors")
