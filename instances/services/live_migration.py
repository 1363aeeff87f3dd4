"""Live migration, written once: the API's start, then each agent's step hands over to the next.

The instance keeps its vm_state (ACTIVE or PAUSED) and its host while task_state is ``migrating``
(API status MIGRATING); the target host holds a claim for its sizes meanwhile
(``live_migration_target``). The steps, each a task on one host's queue:

1. source  ``check_live_migration_source``: what its writable disks are (size, overlay or not);
2. target  ``prepare_live_migration``: the same disks made empty there (an overlay on its own cached
   copy of the image), the guest started waiting for its memory, the NBD exports (virt layer);
3. source  ``live_migrate``: disks mirrored, memory copied; the source stays paused;
4. target  ``finish_live_migration``: the guest runs there; the instance moves (host, claims);
5. source  ``clean_up_live_migration_source``: the old guest, its network port and disks go.

A failure in 1–3 ends the task (the source runs as before) and the target throws its half away; a
failure in 4 also makes the source run again (``resume_live_migration_source``). Every step
re-reads the row and acts only while the instance is still migrating to the same host, so a task
delivered twice, or after the migration was given up, does nothing.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest
from instances.choices import MigrationStatus, MigrationType, TaskState, VmState
from instances.compute import scheduler
from instances.models import ComputeHost, Instance
from instances.services import locks, migrations
from instances.services.action_log import finish_action, record_action
from instances.services.resize import invalid_state

ACTION = "live-migration"
MIGRATABLE = (VmState.ACTIVE, VmState.PAUSED)


def _migrating(instance_id):
    return Instance.objects.filter(
        pk=instance_id, deleted=False, task_state=TaskState.MIGRATING, live_migration_target__isnull=False
    )


def finishing(instance_id, target_name: str) -> bool:
    """Step 4, on the target, before the guest runs there: the migration is marked finishing (a
    conditional update), so that nothing else gives it up while both guests could run. True when
    this target holds the mark (also when it took it already: a second delivery); False when the
    migration was given up or goes elsewhere: the guest must not run."""
    now = timezone.now()
    mine = _migrating(instance_id).filter(live_migration_target__name=target_name)
    if mine.filter(live_migration_finishing=False).update(
        live_migration_finishing=True, task_started_at=now, updated_at=now
    ):
        return True
    return mine.filter(live_migration_finishing=True).exists()


def begin(ctx, instance: Instance, host: str | None, block_migration, request_id: str = "") -> ComputeHost:
    """Check, claim the instance's sizes on the target (``host``, or the scheduler's choice among
    the others) and start with the source's look at its disks."""
    locks.check_not_locked(ctx, instance)
    if block_migration is False:
        raise BadRequest(
            f"Instance {instance.pk} has local disks and compute hosts share no storage: "
            "live migration needs block_migration true or auto."
        )
    if instance.host_id is None or instance.vm_state not in MIGRATABLE:
        raise invalid_state("os-migrateLive", instance.pk)
    if host is not None and host == instance.host.name:
        raise BadRequest(f"The target host can't be the same one: {host} is the instance's host.")
    if host is not None and not ComputeHost.objects.filter(name=host).exists():
        raise BadRequest(f"Compute host {host} could not be found.")
    request = scheduler.Request(
        vcpus=instance.vcpus,
        memory_mb=instance.memory_mb,
        disk_gb=instance.root_gb + instance.ephemeral_gb,
        image_properties=instance.image_properties,
        force_host=host,
        exclude_host=instance.host.name,
    )
    with transaction.atomic():
        current = (
            Instance.objects.filter(
                pk=instance.pk, deleted=False, vm_state__in=MIGRATABLE, task_state=TaskState.NONE
            )
            .select_related("host")
            .first()
        )
        if current is None or current.host is None:
            raise invalid_state("os-migrateLive", instance.pk)
        try:
            target = scheduler.select_and_claim(request)
        except scheduler.NoValidHost as exc:
            raise BadRequest(exc.message) from exc
        now = timezone.now()
        updated = Instance.objects.filter(
            pk=instance.pk, deleted=False, vm_state=current.vm_state, task_state=TaskState.NONE
        ).update(
            task_state=TaskState.MIGRATING, task_started_at=now, updated_at=now, live_migration_target=target
        )
        if not updated:
            raise invalid_state("os-migrateLive", instance.pk)
        migrations.begin(current, MigrationType.LIVE_MIGRATION, current.host, target, ctx)
        record_action(instance.pk, ACTION, ctx, request_id)
        enqueue("instances.check_live_migration_source", str(instance.pk), queue=current.host.queue)
    return target


def _hand_over(instance_id, task: str, *args, to_target: bool) -> bool:
    row = _migrating(instance_id).select_related("host", "live_migration_target").first()
    if row is None or row.host is None:
        return False
    host = row.live_migration_target if to_target else row.host
    enqueue(task, str(instance_id), *args, queue=host.queue)
    return True


def source_checked(instance_id, layout: dict) -> bool:
    """Step 1 done: the target makes the disks ``layout`` describes (and gets the config drive's
    bytes) and waits for the guest."""
    return _hand_over(instance_id, "instances.prepare_live_migration", layout, to_target=True)


def destination_ready(instance_id, endpoint: dict) -> bool:
    """Step 2 done: the source copies the guest to ``endpoint``."""
    return _hand_over(instance_id, "instances.live_migrate", endpoint, to_target=False)


def memory_copied(instance_id, console_tail: str) -> bool:
    """Step 3 done: the target runs the guest (with the source's console log before the move)."""
    return _hand_over(instance_id, "instances.finish_live_migration", console_tail, to_target=True)


def finished(instance_id) -> bool:
    """Step 4 done, on the target: the instance is the target's now; the source's claim goes back
    in the same transaction and its agent removes what is left there."""
    with transaction.atomic():
        row = _migrating(instance_id).select_related("host", "live_migration_target").first()
        if row is None or row.host is None:
            return False
        source, target = row.host, row.live_migration_target
        now = timezone.now()
        updated = (
            _migrating(instance_id)
            .filter(live_migration_target=target)
            .update(
                host=target,
                availability_zone=target.availability_zone,
                live_migration_target=None,
                live_migration_finishing=False,
                task_state=TaskState.NONE,
                task_started_at=None,
                updated_at=now,
            )
        )
        if not updated:
            return False
        migrations.advance(instance_id, MigrationStatus.COMPLETED)
        scheduler.release(source.pk, row.vcpus, row.memory_mb, row.root_gb + row.ephemeral_gb)
        if source.is_up:
            enqueue("instances.clean_up_live_migration_source", str(instance_id), queue=source.queue)
    finish_action(instance_id, ACTION)
    return True


def failed(instance_id, message: str, *, source_paused: bool = False, by_target: bool = False) -> bool:
    """The migration is given up: the target's claim goes back and its agent removes its half.
    The instance stays on its host as it was, with the reason as its fault; with
    ``source_paused`` (the copy was complete) the source's agent first lets the guest run again
    and ends the task then. Once the target marked it finishing (``finishing``) only the target
    itself (``by_target``) gives it up: its guest may run already."""
    with transaction.atomic():
        candidates = _migrating(instance_id)
        if not by_target:
            candidates = candidates.filter(live_migration_finishing=False)
        row = candidates.select_related("host", "live_migration_target").first()
        if row is None:
            return False
        target = row.live_migration_target
        now = timezone.now()
        fields = {"live_migration_target": None, "live_migration_finishing": False, "updated_at": now}
        fields.update(fault_code=500, fault_message=message[:255], fault_at=now)
        if not source_paused:
            fields.update(task_state=TaskState.NONE, task_started_at=None)
        updated = candidates.filter(
            live_migration_target=target, live_migration_finishing=row.live_migration_finishing
        ).update(**fields)
        if not updated:
            return False
        migrations.advance(instance_id, MigrationStatus.ERROR, error=message)
        scheduler.release(target.pk, row.vcpus, row.memory_mb, row.root_gb + row.ephemeral_gb)
        if target.is_up:  # else its agent destroys the half-made guest as an orphan when it is back
            enqueue("instances.abort_live_migration", str(instance_id), queue=target.queue)
        if source_paused and row.host is not None:
            enqueue("instances.resume_live_migration_source", str(instance_id), message, queue=row.host.queue)
    if not source_paused:
        finish_action(instance_id, ACTION, "Error", message)
    return True


def settle_stuck(instance_id, message: str) -> bool:
    """The sweeper's end for a migration stuck past the task timeout: given up as ``failed``
    while it has a target; without one (given up after the copy, waiting for the source to run
    the guest again), the source's agent is asked again when its host is up, and when it is not
    the task ends with ``message`` as the fault, so that the instance can be evacuated."""
    if failed(instance_id, message):
        return True
    busy = (
        _migrating(instance_id).filter(live_migration_finishing=True).select_related("live_migration_target")
    )
    target_row = busy.first()
    if target_row is not None:
        # The target was letting the guest run when it stopped answering: the copy is complete, so
        # the move is finished; a target that is up is asked to finish it again first.
        target = target_row.live_migration_target
        if target.is_up:
            now = timezone.now()
            if busy.filter(task_started_at=target_row.task_started_at).update(task_started_at=now):
                enqueue("instances.finish_live_migration", str(instance_id), "", queue=target.queue)
                return True
            return False
        return finished(instance_id)
    row = (
        Instance.objects.filter(
            pk=instance_id, deleted=False, task_state=TaskState.MIGRATING, live_migration_target__isnull=True
        )
        .select_related("host")
        .first()
    )
    if row is None:
        return False
    now = timezone.now()
    if row.host is not None and row.host.is_up:
        # Its agent resumes the guest and ends the task (``source_resumed``); the timeout starts again.
        updated = Instance.objects.filter(
            pk=instance_id, task_state=TaskState.MIGRATING, live_migration_target__isnull=True
        ).update(task_started_at=now)
        if updated:
            enqueue("instances.resume_live_migration_source", str(instance_id), message, queue=row.host.queue)
        return bool(updated)
    updated = Instance.objects.filter(
        pk=instance_id, deleted=False, task_state=TaskState.MIGRATING, live_migration_target__isnull=True
    ).update(
        task_state=TaskState.NONE,
        task_started_at=None,
        fault_code=500,
        fault_message=message[:255],
        fault_at=now,
        updated_at=now,
    )
    if updated:
        finish_action(instance_id, ACTION, "Error", message)
    return bool(updated)


def source_resumed(instance_id, message: str) -> bool:
    """After ``failed(source_paused=True)``: the guest runs on its host again."""
    updated = Instance.objects.filter(
        pk=instance_id, deleted=False, task_state=TaskState.MIGRATING, live_migration_target__isnull=True
    ).update(task_state=TaskState.NONE, task_started_at=None, updated_at=timezone.now())
    if updated:
        finish_action(instance_id, ACTION, "Error", message)
    return bool(updated)
