"""Port forwards: an instance's public endpoint, a port of its compute host forwarded to a port of
the instance. The rows are the truth; the host's agent makes its nftables match them
(``instances.sync_forwards``), so a lost or repeated task does no harm."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest, Conflict, NotFound
from instances.models import ComputeHost, Instance, PortForward


class ForwardsUnavailable(Conflict):
    pass


def add_forward(instance: Instance, guest_port: int = 22) -> PortForward:
    """Forward the lowest free port of the range on the instance's host to ``guest_port``."""
    if isinstance(guest_port, bool) or not isinstance(guest_port, int) or not 1 <= guest_port <= 65535:
        raise BadRequest(f"Invalid guest port {guest_port!r}: it must be an integer from 1 to 65535.")
    if instance.host_id is None or not instance.address:
        raise ForwardsUnavailable(f"Instance {instance.pk} has no host or no address to forward to.")
    with transaction.atomic():
        # One allocator per host at a time: the row lock on PostgreSQL; SQLite serialises writers.
        host = ComputeHost.objects.select_for_update().get(pk=instance.host_id)
        if host.networking.get("mode") != "bridge":
            raise ForwardsUnavailable(
                f"Compute host {host.name} gives its instances user networking "
                f"({host.networking.get('reason') or 'no bridges'}): nothing can be forwarded to them."
            )
        if PortForward.objects.filter(instance=instance, guest_port=guest_port).exists():
            raise Conflict(f"Port {guest_port} of instance {instance.pk} is already forwarded.")
        used = set(PortForward.objects.filter(host=host).values_list("host_port", flat=True))
        free = next(
            (p for p in range(settings.PORT_FORWARD_FIRST, settings.PORT_FORWARD_LAST + 1) if p not in used),
            None,
        )
        if free is None:
            raise Conflict(f"No free port left in {settings.PORT_FORWARD_RANGE} on host {host.name}.")
        try:
            with transaction.atomic():
                forward = PortForward.objects.create(
                    instance=instance,
                    host=host,
                    bind_address=settings.PORT_FORWARD_BIND_ADDRESS,
                    host_port=free,
                    guest_port=guest_port,
                )
        except IntegrityError as exc:  # the same guest port by a concurrent request
            raise Conflict(f"Port {guest_port} of instance {instance.pk} is already forwarded.") from exc
        enqueue("instances.sync_forwards", queue=host.queue)
    return forward


def remove_forward(instance: Instance, forward_id) -> None:
    try:
        forward_id = uuid.UUID(str(forward_id))
    except ValueError as exc:
        raise NotFound(f"Port forward {forward_id} of instance {instance.pk} could not be found.") from exc
    with transaction.atomic():
        forward = PortForward.objects.select_related("host").filter(pk=forward_id, instance=instance).first()
        if forward is None:
            raise NotFound(f"Port forward {forward_id} of instance {instance.pk} could not be found.")
        forward.delete()
        enqueue("instances.sync_forwards", queue=forward.host.queue)


def release_for_instance(instance_id) -> None:
    """Drop the instance's forwards (it is being deleted) and have their host resync."""
    forwards = PortForward.objects.filter(instance_id=instance_id).select_related("host")
    queues = {f.host.queue for f in forwards}
    forwards.delete()
    for queue in queues:
        enqueue("instances.sync_forwards", queue=queue)
