"""Shelve, shelve-offload and unshelve, as Nova does them.

shelve (ACTIVE, SHUTOFF, PAUSED, SUSPENDED) → the host powers the guest off and snapshots its root
disk into ``<name>-shelved`` → SHELVED; then, at once when COMPUTE_SHELVED_OFFLOAD_TIME is 0, after
that many seconds (the host's periodic sync) or on ``shelveOffload``, the host destroys the guest
and its local disks and the instance gives back its host claim and port forwards →
SHELVED_OFFLOADED, with no host. A volume-backed instance takes no snapshot and is offloaded at
once. unshelve of a SHELVED instance powers it on where it is; of an offloaded one it schedules
again (any host with room, or the zone asked for, 2.77), claims in the same transaction, and the
host boots a copy of the snapshot, which is deleted afterwards.

Quota: Nova (counting from its databases, the default) keeps counting a shelved-offloaded
instance's instances, cores and ram, so unshelve needs no quota check; neither do we.
"""

from __future__ import annotations

import contextlib

from django.db import transaction
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import StratusError
from images import services as image_services
from images.models import Image
from instances.choices import PowerState, TaskState, VmState
from instances.compute import scheduler
from instances.models import ComputeHost, Instance
from instances.services import forwards, locks, servers
from instances.services.attachments import boot_attachment
from instances.services.servers import InstanceInvalidState, begin_action, finish_action, record_action


def is_volume_backed(instance: Instance) -> bool:
    return not instance.image_id or boot_attachment(instance.pk) is not None


def begin_shelve(ctx, instance: Instance, request_id: str = "") -> Image | None:
    """The snapshot image (None for a volume-backed instance) and the host's shelve task."""
    locks.check_not_locked(ctx, instance)
    with transaction.atomic():
        image = None
        if not is_volume_backed(instance):
            image = servers.snapshot_image(ctx, instance, f"{instance.name}-shelved")
        begin_action(ctx, instance, "shelve", str(image.pk) if image else "", request_id=request_id)
    return image


def begin_offload(ctx, instance: Instance, request_id: str = "") -> None:
    locks.check_not_locked(ctx, instance)
    begin_action(ctx, instance, "shelveOffload", request_id=request_id)


def finish_shelve(instance_id, image_id: str, offload: bool) -> bool:
    """SHELVING → SHELVED (and straight into SHELVING_OFFLOADING when offloading now)."""
    now = timezone.now()
    return bool(
        Instance.objects.filter(pk=instance_id, deleted=False, task_state=TaskState.SHELVING).update(
            vm_state=VmState.SHELVED,
            power_state=PowerState.SHUTDOWN,
            task_state=TaskState.SHELVING_OFFLOADING if offload else TaskState.NONE,
            task_started_at=now if offload else None,
            shelved_at=now,
            shelved_image_id=image_id,
            updated_at=now,
        )
    )


def begin_periodic_offload(instance_id) -> bool:
    """SHELVED (idle) → SHELVING_OFFLOADING, for the host's periodic offload."""
    now = timezone.now()
    return bool(
        Instance.objects.filter(
            pk=instance_id, deleted=False, vm_state=VmState.SHELVED, task_state=TaskState.NONE
        ).update(task_state=TaskState.SHELVING_OFFLOADING, task_started_at=now, updated_at=now)
    )


def finish_offload(instance_id) -> bool:
    """The guest and its disks are gone: the instance leaves its host and gives back the host's
    resources and its port forwards, in one transaction that only one caller can win."""
    with transaction.atomic():
        row = (
            Instance.objects.filter(pk=instance_id, deleted=False, task_state=TaskState.SHELVING_OFFLOADING)
            .values("host_id", "vcpus", "memory_mb", "root_gb", "ephemeral_gb")
            .first()
        )
        if row is None:
            return False
        now = timezone.now()
        updated = Instance.objects.filter(
            pk=instance_id, deleted=False, task_state=TaskState.SHELVING_OFFLOADING, host_id=row["host_id"]
        ).update(
            vm_state=VmState.SHELVED_OFFLOADED,
            task_state=TaskState.NONE,
            task_started_at=None,
            power_state=PowerState.SHUTDOWN,
            host=None,
            updated_at=now,
        )
        if updated:
            forwards.release_for_instance(instance_id)
            if row["host_id"]:
                scheduler.release(
                    row["host_id"], row["vcpus"], row["memory_mb"], row["root_gb"] + row["ephemeral_gb"]
                )
        return bool(updated)


def begin_unshelve(
    ctx,
    instance: Instance,
    availability_zone: str | None = None,
    request_id: str = "",
    *,
    host: str | None = None,
) -> None:
    """SHELVED: power on where it is. SHELVED_OFFLOADED: schedule and claim a host now (in the
    transaction that records it; ``host`` if given, else one in ``availability_zone`` if given),
    then the host boots the snapshot. No host with room: the instance stays offloaded and the
    action records why, as Nova's conductor does."""
    locks.check_not_locked(ctx, instance)
    if instance.vm_state == VmState.SHELVED or instance.host_id is not None:
        if availability_zone or host:
            where = "a host" if host else "an availability zone"
            raise InstanceInvalidState(
                f"Cannot 'unshelve' instance {instance.pk} to {where} while it is in "
                f"vm_state {instance.vm_state}: only a shelved offloaded instance can be moved."
            )
        begin_action(ctx, instance, "unshelve", request_id=request_id)
        return
    with transaction.atomic():
        now = timezone.now()
        updated = Instance.objects.filter(
            pk=instance.pk, deleted=False, vm_state=VmState.SHELVED_OFFLOADED, task_state=TaskState.NONE
        ).update(task_state=TaskState.UNSHELVING, task_started_at=now, updated_at=now)
        if not updated:
            current = Instance.objects.filter(pk=instance.pk).values("vm_state", "task_state").first() or {}
            which = "task_state" if current.get("task_state") else "vm_state"
            state = current.get("task_state") or current.get("vm_state") or instance.vm_state
            raise InstanceInvalidState(
                f"Cannot 'unshelve' instance {instance.pk} while it is in {which} {state}"
            )
        record_action(instance.pk, "unshelve", ctx, request_id)
        membership = getattr(instance, "server_group_membership", None)
        request = scheduler.Request(
            vcpus=instance.vcpus,
            memory_mb=instance.memory_mb,
            disk_gb=instance.root_gb + instance.ephemeral_gb,
            image_properties=instance.image_properties,
            availability_zone=availability_zone,
            force_host=host,
            server_group_id=str(membership.group_id) if membership is not None else None,
        )
        try:
            host = scheduler.select_and_claim(request)
        except scheduler.NoValidHost as exc:
            Instance.objects.filter(pk=instance.pk, task_state=TaskState.UNSHELVING).update(
                task_state=TaskState.NONE,
                task_started_at=None,
                fault_code=500,
                fault_message=exc.message[:255],
                fault_at=now,
                updated_at=now,
            )
            finish_action(instance.pk, "unshelve", "Error", exc.message)
            return
        Instance.objects.filter(pk=instance.pk, task_state=TaskState.UNSHELVING).update(
            host=host, availability_zone=host.availability_zone
        )
        enqueue("instances.unshelve", str(instance.pk), queue=host.queue)


def finish_unshelve(instance_id) -> str:
    """UNSHELVING → ACTIVE; returns the shelved image's id (to delete), "" if the task was lost."""
    with transaction.atomic():
        row = (
            Instance.objects.filter(pk=instance_id, deleted=False, task_state=TaskState.UNSHELVING)
            .values("shelved_image_id")
            .first()
        )
        if row is None:
            return ""
        now = timezone.now()
        Instance.objects.filter(pk=instance_id, task_state=TaskState.UNSHELVING).update(
            vm_state=VmState.ACTIVE,
            power_state=PowerState.RUNNING,
            task_state=TaskState.NONE,
            task_started_at=None,
            shelved_at=None,
            shelved_image_id="",
            launched_at=now,
            updated_at=now,
        )
        return row["shelved_image_id"] or "-"


def delete_shelved_image(image_id: str) -> None:
    """Nova deletes the shelved snapshot once the instance runs again (or is deleted)."""
    image = Image.objects.filter(pk=image_id).first() if image_id and image_id != "-" else None
    if image is not None:
        # Already deleted by its owner, or protected by them: theirs to keep.
        with contextlib.suppress(StratusError):
            image_services.delete_image(image)


def offload_due(host: ComputeHost, older_than) -> list[str]:
    """Shelved instances on the host, idle and shelved before ``older_than``."""
    return [
        str(pk)
        for pk in Instance.objects.alive()
        .filter(host=host, vm_state=VmState.SHELVED, task_state=TaskState.NONE, shelved_at__lt=older_than)
        .values_list("pk", flat=True)
    ]
