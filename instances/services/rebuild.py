"""Rebuild with another image, and rescue / unrescue, written once.

Rebuild keeps the instance (id, addresses, volumes, flavor) and gives it a new root disk from the
new image: ACTIVE/SHUTOFF/ERROR → REBUILD (task rebuilding) → ACTIVE, or SHUTOFF again when it was
stopped (as Nova). The new image, name, metadata, key pair and user data are recorded when the
rebuild begins, so the agent builds from the row. Rescue boots a rescue image with the instance's
root disk as the second disk: → task rescuing → RESCUE (vm_state rescued); unrescue → task
unrescuing → ACTIVE from the original disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest
from instances.choices import PowerState, TaskState, VmState
from instances.models import Instance
from instances.services import kernels, keypairs, locks, server_edit
from instances.services.resize import invalid_state
from instances.services.servers import (
    check_bootable,
    check_fits,
    check_user_data,
    finish_action,
    finish_task,
    record_action,
)

REBUILDABLE = (VmState.ACTIVE, VmState.STOPPED, VmState.ERROR)
RESCUABLE = (VmState.ACTIVE, VmState.STOPPED, VmState.ERROR)

UNSET = object()


@dataclass
class RebuildRequest:
    """What a rebuild changes besides the image; a field left UNSET keeps the instance's value."""

    name: object = UNSET
    metadata: object = UNSET
    description: object = UNSET
    key_name: object = UNSET  # None removes the key pair (2.54)
    user_data: object = UNSET  # None removes the user data (2.57)
    preserve_ephemeral: bool = False
    disk_config: str | None = None  # "AUTO" or "MANUAL"; None keeps the instance's


def check_image(image, instance: Instance, *, what: str = "rebuild") -> None:
    """The image must be bootable and, for a rebuild, fit the instance's flavor (Nova's checks)."""
    check_bootable(image)
    if what != "rescue":
        check_fits(image, instance.root_gb, instance.memory_mb)


def begin_rebuild(ctx, instance: Instance, image, change: RebuildRequest, request_id: str = "") -> None:
    locks.check_not_locked(ctx, instance)
    if not instance.image_id:
        raise BadRequest("Unable to rebuild with a different image for a volume-backed server.")
    if instance.host_id is None:
        raise invalid_state("rebuild", instance.pk)
    check_image(image, instance)
    properties = dict(image.properties or {})
    kernels.check_boot_files(ctx, properties)
    fields: dict = {"image_id": str(image.pk), "image_properties": properties}
    if change.disk_config is not None:
        fields["auto_disk_config"] = server_edit.auto_disk_config(properties, change.disk_config)
    if change.name is not UNSET:
        fields["name"] = change.name
    if change.metadata is not UNSET:
        fields["metadata"] = change.metadata
    if change.description is not UNSET:
        fields["description"] = change.description or ""
    if change.key_name is not UNSET:
        if change.key_name is None:
            fields["key_name"], fields["key_data"] = "", ""
        else:
            try:
                keypair = keypairs.get_keypair(ctx.user.pk, change.key_name)
            except keypairs.KeypairNotFound as exc:
                raise BadRequest("Invalid key_name provided.") from exc
            fields["key_name"], fields["key_data"] = keypair.name, keypair.public_key
    if change.user_data is not UNSET:
        fields["user_data"] = check_user_data(change.user_data) if change.user_data else ""
    now = timezone.now()
    with transaction.atomic():
        updated = Instance.objects.filter(
            pk=instance.pk, deleted=False, vm_state__in=REBUILDABLE, task_state=TaskState.NONE
        ).update(task_state=TaskState.REBUILDING, task_started_at=now, updated_at=now, **fields)
        if not updated:
            raise invalid_state("rebuild", instance.pk)
        record_action(instance.pk, "rebuild", ctx, request_id)
        enqueue("instances.rebuild", str(instance.pk), change.preserve_ephemeral, queue=instance.host.queue)


def finish_rebuild(instance_id, running: bool) -> bool:
    return _finish(
        instance_id,
        TaskState.REBUILDING,
        "rebuild",
        vm_state=VmState.ACTIVE if running else VmState.STOPPED,
        power_state=PowerState.RUNNING if running else PowerState.SHUTDOWN,
        fault_code=None,
        fault_message="",
        fault_details="",
        fault_at=None,
    )


def begin_rescue(ctx, instance: Instance, image, request_id: str = "") -> None:
    """``image``: the rescue image (the instance's own when the caller chose none)."""
    locks.check_not_locked(ctx, instance)
    if not instance.image_id:
        raise BadRequest("Cannot rescue a volume backed instance")
    if instance.host_id is None:
        raise invalid_state("rescue", instance.pk)
    check_image(image, instance, what="rescue")
    now = timezone.now()
    with transaction.atomic():
        updated = Instance.objects.filter(
            pk=instance.pk, deleted=False, vm_state__in=RESCUABLE, task_state=TaskState.NONE
        ).update(task_state=TaskState.RESCUING, task_started_at=now, updated_at=now)
        if not updated:
            raise invalid_state("rescue", instance.pk)
        record_action(instance.pk, "rescue", ctx, request_id)
        enqueue("instances.rescue", str(instance.pk), str(image.pk), queue=instance.host.queue)


def finish_rescue(instance_id) -> bool:
    return _finish(
        instance_id, TaskState.RESCUING, "rescue", vm_state=VmState.RESCUED, power_state=PowerState.RUNNING
    )


def begin_unrescue(ctx, instance: Instance, request_id: str = "") -> None:
    locks.check_not_locked(ctx, instance)
    now = timezone.now()
    with transaction.atomic():
        updated = Instance.objects.filter(
            pk=instance.pk,
            deleted=False,
            vm_state=VmState.RESCUED,
            task_state=TaskState.NONE,
            host__isnull=False,
        ).update(task_state=TaskState.UNRESCUING, task_started_at=now, updated_at=now)
        if not updated:
            raise invalid_state("unrescue", instance.pk)
        record_action(instance.pk, "unrescue", ctx, request_id)
        enqueue("instances.unrescue", str(instance.pk), queue=instance.host.queue)


def finish_unrescue(instance_id) -> bool:
    return _finish(
        instance_id, TaskState.UNRESCUING, "unrescue", vm_state=VmState.ACTIVE, power_state=PowerState.RUNNING
    )


def _finish(instance_id, task: str, action: str, **fields) -> bool:
    if finish_task(instance_id, task, **fields):
        finish_action(instance_id, action)
        return True
    return False
