"""Admin → Hypervisors: capacity of each compute host and of all of them, the toggle that takes a
host out of scheduling, and taking one out of service: Migrate Host (disable it and cold migrate
its instances away), Evacuate Host (a host that is down: its instances rebuilt elsewhere) and
Remove Host (one that holds nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

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
            "can_migrate": can(request.ctx, policies.MIGRATE),
            "can_evacuate": can(request.ctx, policies.EVACUATE),
            "can_remove": can(request.ctx, policies.SERVICES_DELETE),
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


def _summary(verb: str, host: ComputeHost, moved: list[str], refused: dict[str, str]) -> str:
    text = f"{verb} {len(moved)} instance{'s' if len(moved) != 1 else ''} of {host.name}."
    if refused:
        text += " Not moved: " + "; ".join(f"{pk}: {why}" for pk, why in refused.items())
    return text


def _confirm(request: HttpRequest, host: ComputeHost, title: str, warning: str, submit: str) -> HttpResponse:
    """The page a host-level action asks for confirmation on (GET); the action is its POST."""
    return render(
        request,
        "generic/confirm.html",
        {
            "title": f"{title} {host.name}",
            "items": [
                f"{host.name} ({host.instance_count} instance{'s' if host.instance_count != 1 else ''})"
            ],
            "warning": warning,
            "submit": submit,
            "cancel_url": reverse("admin-hypervisors"),
        },
    )


def _host(host_id: int) -> ComputeHost:
    hosts = ComputeHost.objects.annotate(
        instance_count=Count("instances", filter=Q(instances__deleted=False))
    )
    return get_object_or_404(hosts, pk=host_id)


@require_http_methods(["GET", "POST"])
@policy_required(policies.HYPERVISORS_DETAIL)
def hypervisor_migrate(request: HttpRequest, host_id: int) -> HttpResponse:
    """Migrate Host: disabled, and each instance cold migrated (then confirmed or reverted)."""
    if not can(request.ctx, policies.MIGRATE) or not can(request.ctx, policies.SERVICES_UPDATE):
        raise PermissionDenied("You may not migrate the instances of compute hosts.")
    host = _host(host_id)
    if request.method == "GET":
        return _confirm(
            request,
            host,
            "Migrate Host",
            "The host is disabled and each of its instances is cold migrated to another host "
            "(each then waits in Verify Resize for its confirm).",
            "Migrate Host",
        )
    moved, refused = host_services.drain(request.ctx, host)
    text = _summary("Migrating", host, moved, refused)
    (messages.warning if refused else messages.success)(
        request, text + (" Confirm each one once it shows Verify Resize." if moved else "")
    )
    return redirect("admin-hypervisors")


@require_http_methods(["GET", "POST"])
@policy_required(policies.HYPERVISORS_DETAIL)
def hypervisor_evacuate(request: HttpRequest, host_id: int) -> HttpResponse:
    if not can(request.ctx, policies.EVACUATE):
        raise PermissionDenied("You may not evacuate compute hosts.")
    host = _host(host_id)
    if request.method == "GET":
        return _confirm(
            request,
            host,
            "Evacuate Host",
            "Each instance of the host is rebuilt on another host from its image: what its local "
            "disks on this host held is lost.",
            "Evacuate Host",
        )
    if host.is_up:
        messages.error(request, f"Compute host {host.name} is up: evacuate only a host that is down.")
        return redirect("admin-hypervisors")
    moved, refused = host_services.evacuate_all(request.ctx, host)
    (messages.warning if refused else messages.success)(request, _summary("Evacuating", host, moved, refused))
    return redirect("admin-hypervisors")


@require_http_methods(["GET", "POST"])
@policy_required(policies.HYPERVISORS_DETAIL)
def hypervisor_remove(request: HttpRequest, host_id: int) -> HttpResponse:
    if not can(request.ctx, policies.SERVICES_DELETE):
        raise PermissionDenied("You may not remove compute hosts.")
    host = _host(host_id)
    if request.method == "GET":
        return _confirm(
            request,
            host,
            "Remove Host",
            "The host is forgotten. Stop its compute agent first, or it registers again.",
            "Remove Host",
        )
    try:
        host_services.remove_host(host)
    except host_services.HostInUse as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Compute host {host.name} was removed.")
    return redirect("admin-hypervisors")
