"""Compute host administration."""

from __future__ import annotations

from django.utils import timezone

from instances.models import ComputeHost


def set_enabled(host: ComputeHost, enabled: bool, reason: str = "") -> ComputeHost:
    """A disabled host keeps its instances but the scheduler passes it over."""
    ComputeHost.objects.filter(pk=host.pk).update(
        enabled=enabled, disabled_reason="" if enabled else reason[:255], updated_at=timezone.now()
    )
    host.refresh_from_db()
    return host


def available_zones() -> list[str]:
    """The availability zones a launch can ask for: those with an enabled compute host that is up,
    as ``GET /os-availability-zone`` lists them and the scheduler can place in."""
    return sorted(set(ComputeHost.objects.schedulable().values_list("availability_zone", flat=True)))
