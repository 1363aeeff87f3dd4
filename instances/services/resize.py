"""Resize to another flavor, written once: begin (API), the agents' steps, confirm and revert.

The states, as Nova's: ACTIVE/SHUTOFF → RESIZE (task resize_prep on the old host, resize_migrated
once the old host stopped the guest and put its disks aside, the new host then builds the new
disks and starts the guest) → VERIFY_RESIZE (vm_state resized) → confirm (back to the old
vm_state; the old host's claim and its disks are released) or revert (task resize_reverting: the
new host tears down, the old host puts the old disks back and starts the guest with the old sizes).

Claims: the new flavor is claimed on the target host when the resize begins (the scheduler's
atomic claim); the old host keeps its claim of the old sizes until confirm. While a resize is in
progress (``resize_target`` set) the instance's own size fields are the new flavor's, the old
ones are in ``old_flavor``, so quota usage (counted from the instances) charges the new flavor, as
Nova does for an upsize. Every step is a conditional UPDATE on the task state, so a step that
runs twice, or after a delete, does nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest
from dashboard.models import Project
from flavors.models import Flavor
from images.choices import ImageStatus
from images.models import Image
from instances.choices import MigrationStatus, MigrationType, PowerState, TaskState, VmState
from instances.compute import scheduler
from instances.models import ComputeHost, Instance, InstanceSizeChange
from instances.services import locks, migrations, quotas, server_edit
from instances.services.servers import InstanceInvalidState, finish_action, record_action

RESIZABLE = (VmState.ACTIVE, VmState.STOPPED)


def invalid_state(action: str, instance_id) -> InstanceInvalidState:
    """Nova's 409 wording, naming the state that refused the action as it is now."""
    current = Instance.objects.filter(pk=instance_id).values("vm_state", "task_state").first() or {}
    if current.get("task_state"):
        return InstanceInvalidState(
            f"Cannot '{action}' instance {instance_id} while it is in task_state {current['task_state']}"
        )
    return InstanceInvalidState(
        f"Cannot '{action}' instance {instance_id} while it is in vm_state {current.get('vm_state')}"
    )


def old_sizes(instance: Instance) -> dict:
    """What the instance runs now, as ``old_flavor`` keeps it during a resize."""
    return {
        "flavor_id": instance.flavor_id,
        "flavor_ref": instance.flavor_ref,
        "flavor_name": instance.flavor_name,
        "vcpus": instance.vcpus,
        "memory_mb": instance.memory_mb,
        "root_gb": instance.root_gb,
        "ephemeral_gb": instance.ephemeral_gb,
        "swap_mb": instance.swap_mb,
        "rxtx_factor": instance.rxtx_factor,
        "flavor_extra_specs": instance.flavor_extra_specs,
        "vm_state": instance.vm_state,
    }


def restored_fields(old: dict) -> dict:
    """The instance fields ``old_flavor`` gives back on revert."""
    fields = {k: v for k, v in old.items() if k not in ("vm_state", "flavor_id")}
    fields["flavor_id"] = old["flavor_id"] if Flavor.objects.filter(pk=old["flavor_id"]).exists() else None
    return fields


def check_flavor(instance: Instance, flavor: Flavor) -> None:
    """Nova's 400s for a flavor the instance cannot be resized to."""
    if not instance.image_id:
        raise BadRequest("Resizing a volume-backed server is not supported.")
    if flavor.id == instance.flavor_ref:
        raise BadRequest("When resizing, instances must change flavor!")
    if flavor.disk == 0:
        raise BadRequest("Resize to zero disk flavor is not allowed.")
    if flavor.disk < instance.root_gb or flavor.ephemeral < instance.ephemeral_gb:
        raise BadRequest("Resize to a smaller disk flavor is not allowed.")
    if not Image.objects.filter(pk=instance.image_id, status=ImageStatus.ACTIVE).exists():
        # The new host's root disk is backed by the image, fetched through its image cache.
        raise BadRequest(f"Image {instance.image_id} of the instance is not active: it cannot be resized.")
    min_ram = int(instance.image_properties.get("min_ram") or 0)
    if min_ram > flavor.ram:
        raise BadRequest("Flavor's memory is too small for requested image.")


def check_quota(instance: Instance, flavor: Flavor) -> None:
    """The cores and RAM the resize adds must fit the project's quota (run under its lock)."""
    limits, used = quotas.limits_for(instance.project_id), quotas.usage_of(instance.project_id)
    delta = {"cores": flavor.vcpus - instance.vcpus, "ram": flavor.ram - instance.memory_mb}
    over = [
        name
        for name, more in delta.items()
        if more > 0 and limits[name] >= 0 and getattr(used, name) + more > limits[name]
    ]
    if over:
        detail = ", ".join(
            f"{name} (requested {delta[name]}, used {getattr(used, name)}, limit {limits[name]})"
            for name in over
        )
        raise quotas.OverQuota(f"Quota exceeded for {', '.join(over)}: Requested {detail}.")


def begin_resize(
    ctx, instance: Instance, flavor: Flavor, request_id: str = "", disk_config: str | None = None
) -> ComputeHost:
    """Check, claim the new flavor on a host, and start: the old host stops the guest first.
    ``disk_config`` AUTO or MANUAL changes the server's disk config with it."""
    locks.check_not_locked(ctx, instance)
    check_flavor(instance, flavor)
    disk_fields = {}
    if disk_config is not None:
        disk_fields["auto_disk_config"] = server_edit.auto_disk_config(instance.image_properties, disk_config)
    return _begin_move(
        ctx,
        instance,
        flavor.sizes(),
        flavor=flavor,
        exclude_source=not settings.COMPUTE_ALLOW_RESIZE_TO_SAME_HOST,
        migration_type=MigrationType.RESIZE,
        request_id=request_id,
        extra_fields=disk_fields,
    )


def begin_migrate(ctx, instance: Instance, host: str | None = None, request_id: str = "") -> ComputeHost:
    """Cold migration (Nova's ``migrate``): a resize to the same flavor on another host, ``host``
    if given; it ends in VERIFY_RESIZE and is confirmed or reverted like a resize."""
    locks.check_not_locked(ctx, instance)
    if not instance.image_id:
        raise BadRequest("Cold migration of a volume-backed server is not supported.")
    if not Image.objects.filter(pk=instance.image_id, status=ImageStatus.ACTIVE).exists():
        raise BadRequest(f"Image {instance.image_id} of the instance is not active: it cannot be migrated.")
    if host is not None:
        target = ComputeHost.objects.filter(name=host).first()
        if target is None:
            raise BadRequest(f"Compute host {host} could not be found.")
        if target.pk == instance.host_id:
            raise BadRequest("The target host can't be the same one.")
    sizes = {
        "id": instance.flavor_ref,
        "name": instance.flavor_name,
        "vcpus": instance.vcpus,
        "ram": instance.memory_mb,
        "disk": instance.root_gb,
        "ephemeral": instance.ephemeral_gb,
        "swap": instance.swap_mb,
        "rxtx_factor": instance.rxtx_factor,
        "extra_specs": instance.flavor_extra_specs,
    }
    return _begin_move(
        ctx,
        instance,
        sizes,
        flavor=instance.flavor,
        exclude_source=True,
        force_host=host,
        migration_type=MigrationType.MIGRATION,
        request_id=request_id,
    )


def _begin_move(
    ctx,
    instance: Instance,
    sizes: dict,
    *,
    flavor: Flavor | None,
    exclude_source: bool,
    migration_type: str,
    force_host: str | None = None,
    request_id: str = "",
    extra_fields: dict | None = None,
) -> ComputeHost:
    """Claim ``sizes`` on a host and start the move: the instance's own size fields become
    ``sizes`` (unchanged for a cold migration), the old ones go to ``old_flavor``; ``extra_fields``
    change with them (a resize's disk config)."""
    action = migrations.ACTION[migration_type]
    if instance.host_id is None:
        raise invalid_state(action, instance.pk)
    request = scheduler.Request(
        vcpus=sizes["vcpus"],
        memory_mb=sizes["ram"],
        disk_gb=sizes["disk"] + sizes["ephemeral"],
        image_properties=instance.image_properties,
        force_host=force_host,
        exclude_host=instance.host.name if exclude_source else None,
    )
    with transaction.atomic():
        Project.objects.lock(instance.project_id)
        current = (
            Instance.objects.filter(
                pk=instance.pk, deleted=False, vm_state__in=RESIZABLE, task_state=TaskState.NONE
            )
            .select_related("host")
            .first()
        )
        if current is None:
            raise invalid_state(action, instance.pk)
        if flavor is not None and migration_type == MigrationType.RESIZE:
            check_quota(current, flavor)
        try:
            target = scheduler.select_and_claim(request)
        except scheduler.NoValidHost as exc:  # Nova's resize and migrate answer this with 400
            raise BadRequest(exc.message) from exc
        now = timezone.now()
        updated = Instance.objects.filter(
            pk=instance.pk, deleted=False, vm_state=current.vm_state, task_state=TaskState.NONE
        ).update(
            task_state=TaskState.RESIZE_PREP,
            task_started_at=now,
            updated_at=now,
            old_flavor=old_sizes(current),
            resize_source_id=current.host_id,
            resize_target=target,
            flavor=flavor,
            flavor_ref=sizes["id"],
            flavor_name=sizes["name"],
            vcpus=sizes["vcpus"],
            memory_mb=sizes["ram"],
            root_gb=sizes["disk"],
            ephemeral_gb=sizes["ephemeral"],
            swap_mb=sizes["swap"],
            rxtx_factor=sizes["rxtx_factor"],
            flavor_extra_specs=sizes["extra_specs"],
            **(extra_fields or {}),
        )
        if not updated:
            raise invalid_state(action, instance.pk)
        InstanceSizeChange.record(
            instance.pk,
            now,
            InstanceSizeChange.of(current),
            InstanceSizeChange.sizes(
                sizes["name"], sizes["vcpus"], sizes["ram"], sizes["disk"], sizes["ephemeral"]
            ),
        )
        migrations.begin(
            current,
            migration_type,
            current.host,
            target,
            ctx,
            old_flavor_ref=current.flavor_ref,
            new_flavor_ref=sizes["id"],
        )
        record_action(instance.pk, action, ctx, request_id)
        enqueue("instances.resize", str(instance.pk), queue=current.host.queue)
    return target


def disks_moved(instance_id, source_dir: str, files: dict | None = None) -> bool:
    """The old host stopped the guest and set its disks aside: the instance moves to the target
    host, whose agent builds the new disks from ``source_dir`` (on another host: fetched through
    the old host's transfer endpoint and checked against ``files``, {name: {size, sha512}})."""
    with transaction.atomic():
        row = (
            Instance.objects.filter(
                pk=instance_id, deleted=False, task_state=TaskState.RESIZE_PREP, resize_target__isnull=False
            )
            .select_related("resize_target")
            .first()
        )
        if row is None:
            return False
        now = timezone.now()
        updated = Instance.objects.filter(
            pk=instance_id, deleted=False, task_state=TaskState.RESIZE_PREP
        ).update(
            task_state=TaskState.RESIZE_MIGRATED,
            task_started_at=now,
            updated_at=now,
            host_id=row.resize_target_id,
            availability_zone=row.resize_target.availability_zone,
        )
        if updated:
            migrations.advance(instance_id, MigrationStatus.POST_MIGRATING)
            enqueue(
                "instances.finish_resize",
                str(instance_id),
                source_dir,
                files or {},
                queue=row.resize_target.queue,
            )
        return bool(updated)


def abort_resize(instance_id, message: str) -> bool:
    """The old host could not stop the guest or set its disks aside: the target's claim goes back,
    the instance keeps its old flavor and state (Nova's fault-and-rollback), and the action failed."""
    with transaction.atomic():
        row = Instance.objects.filter(pk=instance_id, deleted=False, task_state=TaskState.RESIZE_PREP).first()
        if row is None or not row.old_flavor:
            return False
        now = timezone.now()
        updated = Instance.objects.filter(
            pk=instance_id, deleted=False, task_state=TaskState.RESIZE_PREP
        ).update(
            **restored_fields(row.old_flavor),
            vm_state=row.old_flavor["vm_state"],
            task_state=TaskState.NONE,
            task_started_at=None,
            updated_at=now,
            old_flavor={},
            resize_source=None,
            resize_target=None,
            fault_code=500,
            fault_message=message[:255],
            fault_at=now,
        )
        if updated:
            _record_rollback(row, now)
        if updated and row.resize_target_id:
            scheduler.release(row.resize_target_id, row.vcpus, row.memory_mb, row.root_gb + row.ephemeral_gb)
        action = migrations.action_of(instance_id)
        if updated:
            migrations.advance(instance_id, MigrationStatus.ERROR, error=message)
    if updated:
        finish_action(instance_id, action, "Error", message)
    return bool(updated)


def _record_rollback(row: Instance, at) -> None:
    """The instance is back to the sizes in ``old_flavor`` (the row still holds the new ones)."""
    old = row.old_flavor
    InstanceSizeChange.record(
        row.pk,
        at,
        InstanceSizeChange.of(row),
        InstanceSizeChange.sizes(
            old["flavor_name"], old["vcpus"], old["memory_mb"], old["root_gb"], old["ephemeral_gb"]
        ),
    )


def finish_resize(instance_id, running: bool) -> bool:
    """The new host runs the instance with the new flavor: VERIFY_RESIZE."""
    from_state = TaskState.RESIZE_MIGRATED
    now = timezone.now()
    updated = Instance.objects.filter(pk=instance_id, deleted=False, task_state=from_state).update(
        vm_state=VmState.RESIZED,
        task_state=TaskState.NONE,
        task_started_at=None,
        power_state=PowerState.RUNNING if running else PowerState.SHUTDOWN,
        resized_at=now,
        updated_at=now,
    )
    if updated:
        action = migrations.action_of(instance_id)
        migrations.advance(instance_id, MigrationStatus.FINISHED)
        finish_action(instance_id, action)
    return bool(updated)


def confirm_resize(ctx, instance: Instance, request_id: str = "", *, action: str = "confirmResize") -> None:
    """Keep the new flavor: the old host's claim is released now, in the transaction that ends the
    resize; its agent then removes the old disks."""
    if ctx is not None:  # the periodic auto-confirm ignores the lock, as Nova's does
        locks.check_not_locked(ctx, instance)
    with transaction.atomic():
        row = (
            Instance.objects.filter(
                pk=instance.pk, deleted=False, vm_state=VmState.RESIZED, task_state=TaskState.NONE
            )
            .select_related("resize_source")
            .first()
        )
        if row is None:
            raise invalid_state("confirmResize", instance.pk)
        old = row.old_flavor
        updated = Instance.objects.filter(
            pk=row.pk,
            deleted=False,
            vm_state=VmState.RESIZED,
            task_state=TaskState.NONE,
            resized_at=row.resized_at,
        ).update(
            vm_state=old.get("vm_state") or VmState.ACTIVE,
            old_flavor={},
            resize_source=None,
            resize_target=None,
            resized_at=None,
            updated_at=timezone.now(),
        )
        if not updated:
            raise invalid_state("confirmResize", instance.pk)
        migrations.advance(row.pk, MigrationStatus.CONFIRMED)
        source = row.resize_source
        if source is not None:
            scheduler.release(source.pk, old["vcpus"], old["memory_mb"], old["root_gb"] + old["ephemeral_gb"])
        record_action(row.pk, action, ctx, request_id)
        if source is not None and source.is_up:
            enqueue("instances.confirm_resize", str(row.pk), queue=source.queue)
        else:  # the agent removes the leftover disks when it syncs (destroy_orphans)
            finish_action(row.pk, action)


def begin_revert(ctx, instance: Instance, request_id: str = "") -> None:
    """Back to the old flavor: the new host tears the guest down first."""
    locks.check_not_locked(ctx, instance)
    with transaction.atomic():
        row = Instance.objects.filter(pk=instance.pk).select_related("host").first()
        updated = Instance.objects.filter(
            pk=instance.pk, deleted=False, vm_state=VmState.RESIZED, task_state=TaskState.NONE
        ).update(
            task_state=TaskState.RESIZE_REVERTING, task_started_at=timezone.now(), updated_at=timezone.now()
        )
        if not updated or row is None or row.host is None:
            raise invalid_state("revertResize", instance.pk)
        migrations.advance(instance.pk, MigrationStatus.REVERTING)
        record_action(instance.pk, "revertResize", ctx, request_id)
        enqueue("instances.revert_resize", str(instance.pk), queue=row.host.queue)


def reverted_on_target(instance_id) -> bool:
    """The new host is clean: its claim goes back, the instance is the old host's again with its
    old sizes; the old host's agent puts the old disks back and starts it."""
    with transaction.atomic():
        row = (
            Instance.objects.filter(
                pk=instance_id,
                deleted=False,
                task_state=TaskState.RESIZE_REVERTING,
                resize_target__isnull=False,
            )
            .select_related("resize_source")
            .first()
        )
        if row is None or row.resize_source is None:
            return False
        updated = Instance.objects.filter(
            pk=instance_id, deleted=False, task_state=TaskState.RESIZE_REVERTING, resize_target__isnull=False
        ).update(
            **restored_fields(row.old_flavor),
            host_id=row.resize_source_id,
            availability_zone=row.resize_source.availability_zone,
            resize_target=None,
            updated_at=timezone.now(),
        )
        if updated:
            _record_rollback(row, timezone.now())
            scheduler.release(row.resize_target_id, row.vcpus, row.memory_mb, row.root_gb + row.ephemeral_gb)
            enqueue("instances.finish_revert_resize", str(instance_id), queue=row.resize_source.queue)
        return bool(updated)


def finish_revert(instance_id, running: bool) -> bool:
    row = Instance.objects.filter(
        pk=instance_id, deleted=False, task_state=TaskState.RESIZE_REVERTING
    ).first()
    if row is None or not row.old_flavor:
        return False
    now = timezone.now()
    updated = Instance.objects.filter(
        pk=instance_id, deleted=False, task_state=TaskState.RESIZE_REVERTING, resize_target__isnull=True
    ).update(
        vm_state=row.old_flavor["vm_state"],
        power_state=PowerState.RUNNING if running else PowerState.SHUTDOWN,
        task_state=TaskState.NONE,
        task_started_at=None,
        old_flavor={},
        resize_source=None,
        resized_at=None,
        updated_at=now,
    )
    if updated:
        migrations.advance(instance_id, MigrationStatus.REVERTED)
        finish_action(instance_id, "revertResize")
    return bool(updated)


def confirm_expired() -> int:
    """Auto-confirm resizes left in VERIFY_RESIZE longer than COMPUTE_RESIZE_CONFIRM_WINDOW
    (Nova's resize_confirm_window); 0 turns it off."""
    window = settings.COMPUTE_RESIZE_CONFIRM_WINDOW
    if window <= 0:
        return 0
    cutoff = timezone.now() - timedelta(seconds=window)
    done = 0
    late = Instance.objects.filter(
        deleted=False, vm_state=VmState.RESIZED, task_state=TaskState.NONE, resized_at__lt=cutoff
    )
    for instance in late:
        try:
            confirm_resize(None, instance)
        except InstanceInvalidState:
            continue  # confirmed or reverted by its user meanwhile
        done += 1
    return done
