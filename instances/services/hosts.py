"""Compute host administration."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.exceptions import Conflict, StratusError
from instances.models import ComputeHost, Instance
from instances.services import evacuate, resize


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


class HostInUse(Conflict):
    """The host still holds instances (or the two ends of a move): it cannot be removed."""


def set_forced_down(host: ComputeHost, forced_down: bool) -> ComputeHost:
    """Nova's forced_down: the host counts as down now (evacuate may begin) until cleared."""
    ComputeHost.objects.filter(pk=host.pk).update(forced_down=forced_down, updated_at=timezone.now())
    host.refresh_from_db()
    return host


def holds_instances(host: ComputeHost) -> bool:
    here = Q(host=host) | Q(resize_source=host) | Q(resize_target=host) | Q(live_migration_target=host)
    return Instance.objects.alive().filter(here).exists()


def remove_host(host: ComputeHost) -> None:
    """Forget a host that holds nothing (its agent should be stopped first: a running one
    registers again). The check and the delete are one transaction."""
    with transaction.atomic():
        locked = ComputeHost.objects.select_for_update().filter(pk=host.pk).first()
        if locked is None:
            return
        if holds_instances(locked):
            raise HostInUse(
                "Unable to delete compute service that is hosting instances. Migrate or delete them first."
            )
        locked.delete()


def drain(ctx, host: ComputeHost, request_id: str = "") -> tuple[list[str], dict[str, str]]:
    """Take the host out of service: disabled (no new instances), and each of its instances cold
    migrated elsewhere (each then waits in VERIFY_RESIZE for its confirm). Returns the ids that
    began moving and, for the others, why not."""
    set_enabled(host, False, host.disabled_reason or "drained: instances migrated away")
    moved, refused = [], {}
    for instance in Instance.objects.alive().filter(host=host).select_related("host").order_by("created_at"):
        try:
            resize.begin_migrate(ctx, instance, None, request_id)
        except StratusError as exc:
            refused[str(instance.pk)] = exc.message
            continue
        moved.append(str(instance.pk))
    return moved, refused


def evacuate_all(ctx, host: ComputeHost, request_id: str = "") -> tuple[list[str], dict[str, str]]:
    """Rebuild every instance of a host that is down on other hosts (each as ``evacuate``)."""
    moved, refused = [], {}
    for instance in Instance.objects.alive().filter(host=host).select_related("host").order_by("created_at"):
        try:
            evacuate.begin_evacuate(ctx, instance, None, request_id)
        except StratusError as exc:
            refused[str(instance.pk)] = exc.message
            continue
        moved.append(str(instance.pk))
    return moved, refused
