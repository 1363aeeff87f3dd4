"""Evacuate: rebuild the instance of a host that is down on another host, from its image, with its
volumes (Nova's ``evacuate``). The old host's disks are lost with it; its agent destroys what is
left of the guest when it comes back (the instance is no longer its own: destroy_orphans).

The begin is one transaction: a new host is claimed, the instance moves to it (task
``rebuilding``, its vm_state kept), the old host's claim goes back, an ``evacuation`` migration
is recorded; the new host's agent then makes new disks and starts the guest as it was (a stopped
instance stays stopped, one in ERROR comes back active).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest, Conflict
from instances.choices import MigrationStatus, MigrationType, PowerState, TaskState, VmState
from instances.compute import scheduler
from instances.models import ComputeHost, Instance
from instances.services import migrations
from instances.services.resize import invalid_state
from instances.services.servers import finish_action, finish_task, record_action

EVACUABLE = (VmState.ACTIVE, VmState.STOPPED, VmState.ERROR)


def begin_evacuate(ctx, instance: Instance, host: str | None = None, request_id: str = "") -> ComputeHost:
    source = instance.host
    if source is None:
        raise invalid_state("evacuate", instance.pk)
    if source.is_up:
        raise Conflict(f"Compute service of {source.name} is still in use.")
    if host is not None:
        target = ComputeHost.objects.filter(name=host).first()
        if target is None:
            raise BadRequest(f"Compute host {host} could not be found.")
        if target.pk == source.pk:
            raise BadRequest("The target host can't be the same one.")
    request = scheduler.Request(
        vcpus=instance.vcpus,
        memory_mb=instance.memory_mb,
        disk_gb=instance.root_gb + instance.ephemeral_gb,
        image_properties=instance.image_properties,
        force_host=host,
        exclude_host=source.name,
    )
    with transaction.atomic():
        current = Instance.objects.filter(
            pk=instance.pk, deleted=False, host=source, vm_state__in=EVACUABLE, task_state=TaskState.NONE
        ).first()
        if current is None:
            raise invalid_state("evacuate", instance.pk)
        try:
            target = scheduler.select_and_claim(request)
        except scheduler.NoValidHost as exc:
            raise BadRequest(exc.message) from exc
        now = timezone.now()
        updated = Instance.objects.filter(
            pk=current.pk, deleted=False, host=source, vm_state=current.vm_state, task_state=TaskState.NONE
        ).update(
            host=target,
            availability_zone=target.availability_zone,
            task_state=TaskState.REBUILDING,
            task_started_at=now,
            updated_at=now,
        )
        if not updated:
            raise invalid_state("evacuate", instance.pk)
        scheduler.release(source.pk, current.vcpus, current.memory_mb, current.root_gb + current.ephemeral_gb)
        migrations.begin(
            current, MigrationType.EVACUATION, source, target, ctx, status=MigrationStatus.ACCEPTED
        )
        record_action(current.pk, "evacuate", ctx, request_id)
        enqueue("instances.evacuate", str(current.pk), queue=target.queue)
    return target


def finish_evacuate(instance_id, running: bool) -> bool:
    """The new host runs (or holds, stopped) the rebuilt instance."""
    done = finish_task(
        instance_id,
        TaskState.REBUILDING,
        vm_state=VmState.ACTIVE if running else VmState.STOPPED,
        power_state=PowerState.RUNNING if running else PowerState.SHUTDOWN,
        fault_code=None,
        fault_message="",
        fault_details="",
        fault_at=None,
    )
    if done:
        migrations.advance(instance_id, MigrationStatus.DONE)
        finish_action(instance_id, "evacuate")
    return done


def fail_evacuate(instance_id, message: str) -> None:
    migrations.advance(instance_id, MigrationStatus.FAILED, error=message)
