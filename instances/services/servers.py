"""Instance lifecycle, written once: launch, the power actions, snapshot and delete.

Every transition is one conditional UPDATE on (vm_state, task_state). The API side moves an
instance into a task state (``begin_*``) and enqueues the agent's task once the transaction has
committed; the agent finishes it with :func:`finish_task`, which only matches while the task
state is still the one it was given — a delete that raced in first wins, and a task that runs
twice finds nothing to do.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest, Conflict, Forbidden, NotFound, StratusError
from dashboard.models import Project
from dashboard.policy import can
from flavors.models import Flavor
from images import services as image_services
from images.choices import ContainerFormat, DiskFormat, ImageStatus, Visibility
from images.models import Image
from instances.choices import PowerState, TaskState, VmState
from instances.compute import scheduler
from instances.models import ComputeHost, Instance
from instances.policies import SERVERS_ZERO_DISK_FLAVOR
from instances.services import (
    claims,
    consoles,
    forwards,
    hardware,
    kernels,
    keypairs,
    migrations,
    network,
    quotas,
    server_edit,
    server_groups,
)
from instances.services.action_log import finish_action, record_action
from instances.services.attachments import release_for_instance
from instances.services.locks import check_not_locked
from instances.virt.base import SOURCE_FORMATS

GiB = 1024**3
# An ami is a raw disk (booted with its kernel_id/ramdisk_id, see services.kernels); an iso is a
# CD-ROM the guest boots from, with a blank root disk to install onto; the others are converted to
# qcow2 once, in the compute host's image cache.
SUPPORTED_DISK_FORMATS = ("raw", "qcow2", "ami", "iso", *SOURCE_FORMATS)


class InstanceInvalidState(Conflict):
    """Nova's 409 for an action the instance's state does not allow (or a lost race)."""


@dataclass(frozen=True)
class Action:
    allowed: tuple[str, ...]
    task_state: str
    task: str  # name of the agent task (instances.tasks)


ACTIONS: dict[str, Action] = {
    "stop": Action((VmState.ACTIVE, VmState.ERROR), TaskState.POWERING_OFF, "instances.stop"),
    "start": Action((VmState.STOPPED,), TaskState.POWERING_ON, "instances.start"),
    "reboot": Action((VmState.ACTIVE,), TaskState.REBOOTING, "instances.reboot"),
    "reboot_hard": Action(
        (VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR),
        TaskState.REBOOTING_HARD,
        "instances.reboot",
    ),
    "pause": Action((VmState.ACTIVE,), TaskState.PAUSING, "instances.pause"),
    "unpause": Action((VmState.PAUSED,), TaskState.UNPAUSING, "instances.unpause"),
    "suspend": Action((VmState.ACTIVE,), TaskState.SUSPENDING, "instances.suspend"),
    "resume": Action((VmState.SUSPENDED,), TaskState.RESUMING, "instances.resume"),
    "createImage": Action(
        (VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED),
        TaskState.IMAGE_SNAPSHOT,
        "instances.snapshot",
    ),
    "createBackup": Action(
        (VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED),
        TaskState.IMAGE_BACKUP,
        "instances.backup",
    ),
    # Shelving (services.shelve): the snapshot and the offload happen on the instance's host.
    "shelve": Action(
        (VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED),
        TaskState.SHELVING,
        "instances.shelve",
    ),
    "shelveOffload": Action((VmState.SHELVED,), TaskState.SHELVING_OFFLOADING, "instances.shelve_offload"),
    "unshelve": Action((VmState.SHELVED,), TaskState.UNSHELVING, "instances.unshelve"),
}


# Actions after which the guest has no screen: they revoke the instance's console tokens.
CLOSES_CONSOLES = ("stop", "suspend")


# --- launch ------------------------------------------------------------------------------------


def check_bootable(image) -> None:
    """The image can start a guest at all: active, not marked corrupt, a format compute boots."""
    if image.status != ImageStatus.ACTIVE:
        raise BadRequest(f"Image {image.pk} is not active.")
    if image.is_corrupt:  # Nova's ImageUnacceptable: 400
        raise BadRequest(f"Image {image.pk} is unacceptable: {image.corrupt_reason}")
    if image.disk_format not in SUPPORTED_DISK_FORMATS or not image.os_hash_value:
        raise BadRequest(
            f"Image {image.pk} is unacceptable: disk format {image.disk_format} is not supported "
            f"(use {' or '.join(SUPPORTED_DISK_FORMATS)})."
        )


def check_fits(image, disk_gb: int, ram_mb: int) -> None:
    """The image fits a root disk of ``disk_gb`` and ``ram_mb`` of memory (Nova's flavor checks)."""
    virtual = image.virtual_size or image.size or 0
    if virtual > disk_gb * GiB:
        raise BadRequest(
            f"Flavor's disk is too small for requested image. Flavor disk is {disk_gb * GiB} bytes, "
            f"image is {virtual} bytes."
        )
    if image.min_disk > disk_gb:
        raise BadRequest(
            f"Flavor's disk is too small for requested image. Flavor disk is {disk_gb} GB, "
            f"minimum disk is {image.min_disk} GB."
        )
    if image.min_ram > ram_mb:
        raise BadRequest("Flavor's memory is too small for requested image.")


def check_image_and_flavor(image, flavor: Flavor, ctx=None) -> int:
    """Refuse what could never boot (Nova's checks in compute/api.py); return the root disk GB."""

    check_bootable(image)
    if flavor.disk == 0:
        if ctx is not None and not can(ctx, SERVERS_ZERO_DISK_FLAVOR, {"project_id": ctx.project_id}):
            raise Forbidden("Only volume-backed servers are allowed for flavors with zero disk.")
        virtual = image.virtual_size or image.size or 0
        return max(1, math.ceil(virtual / GiB), image.min_disk)
    check_fits(image, flavor.disk, flavor.ram)
    return flavor.disk


def check_user_data(user_data: str) -> str:
    """Nova's user_data: base64 of at most COMPUTE_USER_DATA_MAX_BYTES (as sent, encoded), decodable;
    kept as sent. Raises BadRequest saying what is wrong."""
    prefix = "Invalid input for field/attribute user_data. Value: ...."
    limit = settings.COMPUTE_USER_DATA_MAX_BYTES
    if len(user_data) > limit:
        raise BadRequest(f"{prefix} It is {len(user_data)} bytes long; at most {limit}.")
    try:
        base64.b64decode(user_data, validate=True)
    except binascii.Error as exc:
        raise BadRequest(f"{prefix} It is not valid base64: {exc}.") from exc
    return user_data


def launch(
    ctx,
    *,
    image,
    flavor: Flavor,
    name: str,
    min_count: int = 1,
    max_count: int = 1,
    availability_zone: str | None = None,
    force_host: str | None = None,
    metadata: dict | None = None,
    description: str = "",
    request_id: str = "",
    boot_volume=None,
    key_name: str = "",
    user_data: str = "",
    config_drive: bool = False,
    server_group=None,
    access_ip_v4: str | None = None,
    access_ip_v6: str | None = None,
    disk_config: str | None = None,
    hostname: str = "",
) -> list[Instance]:
    """Create, schedule and claim ``min_count``…``max_count`` instances in one transaction;
    the builds go to the chosen hosts' queues after it commits. An instance no host can take is
    created in ERROR with the scheduler's reason, as Nova does. With a ``server_group`` each
    instance joins it in the transaction that places it, so the next placement sees it."""
    if boot_volume is not None:  # services.attachments.BootVolume: the root disk is a volume
        if min_count != 1 or max_count != 1:
            raise BadRequest("Only one instance can boot from a volume per request.")
        root_gb, image_properties, image_id = boot_volume.check(ctx, flavor), boot_volume.image_properties, ""
        disk_format = ""
    else:
        root_gb = check_image_and_flavor(image, flavor, ctx)
        image_properties, image_id = dict(image.properties or {}), str(image.pk)
        disk_format = image.disk_format
    kernels.check_boot_files(ctx, image_properties)
    auto_disk_config = server_edit.auto_disk_config(image_properties, disk_config)
    hardware.guest_hardware(image_properties, flavor_extra_specs=flavor.spec_dict())
    request = scheduler.Request(
        vcpus=flavor.vcpus,
        memory_mb=flavor.ram,
        disk_gb=root_gb + flavor.ephemeral,
        image_properties=image_properties,
        availability_zone=availability_zone,
        force_host=force_host,
        server_group_id=str(server_group.pk) if server_group is not None else None,
    )
    if user_data:
        check_user_data(user_data)
    keypair = None
    if key_name:
        try:
            keypair = keypairs.get_keypair(ctx.user.pk, key_name)
        except keypairs.KeypairNotFound as exc:  # Nova answers a launch with an unknown key by 400
            raise BadRequest("Invalid key_name provided.") from exc
    template = {
        "key_name": keypair.name if keypair else "",
        "key_data": keypair.public_key if keypair else "",
        "user_data": user_data,
        "config_drive": config_drive or settings.COMPUTE_FORCE_CONFIG_DRIVE,
        "description": description or "",
        "access_ip_v4": access_ip_v4,
        "access_ip_v6": access_ip_v6,
        "auto_disk_config": auto_disk_config,
        "hostname": hostname,
        "project_id": ctx.project_id,
        "user": ctx.user,
        "image_id": image_id,
        "image_properties": image_properties,
        "image_disk_format": disk_format,
        "root_gb": root_gb,
        "availability_zone": availability_zone or "",
        "metadata": metadata or {},
        "reservation_id": f"r-{secrets.token_hex(4)}",
    }
    created: list[Instance] = []
    with transaction.atomic():
        Project.objects.lock(ctx.project_id)
        count = quotas.allowed_count(ctx.project_id, flavor.vcpus, flavor.ram, min_count, max_count)
        if server_group is not None:
            scheduler.lock_group(server_group.pk)
            server_groups.check_member_quota(server_group, count)
        net = network.network_for(ctx.project_id)
        for index in range(count):
            instance = new_instance(flavor, net, name=f"{name}-{index + 1}" if count > 1 else name,
                                    launch_index=index, **template)  # fmt: skip
            host = _place(instance, request)
            instance.save(force_insert=True)
            if server_group is not None:
                server_groups.add_member(server_group, instance)
            record_action(instance.pk, "create", ctx, request_id)
            if host is not None:
                if boot_volume is not None:
                    boot_volume.attach(ctx, instance)
                enqueue("instances.build", str(instance.pk), queue=host.queue)
            created.append(instance)
    return created


def new_instance(flavor: Flavor, net, **fields) -> Instance:
    """An unsaved instance with its own copy of the flavor's sizes (so that deleting the flavor
    later leaves it intact) and an address on its project's network."""
    sizes = flavor.sizes()
    return Instance(
        flavor=flavor,
        flavor_ref=sizes["id"],
        flavor_name=sizes["name"],
        vcpus=sizes["vcpus"],
        memory_mb=sizes["ram"],
        ephemeral_gb=sizes["ephemeral"],
        swap_mb=sizes["swap"],
        rxtx_factor=sizes["rxtx_factor"],
        flavor_extra_specs=sizes["extra_specs"],
        network=net,
        address=network.allocate_address(net),
        mac_address=network.new_mac(),
        task_started_at=timezone.now(),
        **fields,
    )


def _place(instance: Instance, request: scheduler.Request) -> ComputeHost | None:
    """Claim a host for the instance (spawning there), or put it in ERROR with the scheduler's
    reason when no host can take it, as Nova does."""
    try:
        host = scheduler.select_and_claim(request)
    except scheduler.NoValidHost as exc:
        instance.vm_state, instance.task_state = VmState.ERROR, TaskState.NONE
        _set_fault(instance, 500, exc.message)
        return None
    instance.host, instance.task_state = host, TaskState.SPAWNING
    instance.availability_zone = host.availability_zone
    return host


def _set_fault(instance: Instance, code: int, message: str, details: str = "") -> None:
    instance.fault_code, instance.fault_message = code, message[:255]
    instance.fault_details, instance.fault_at = details, timezone.now()


# --- actions -----------------------------------------------------------------------------------


def begin_action(ctx, instance: Instance, action: str, *task_args, request_id: str = "") -> None:
    """Move the instance into the action's task state and hand the work to its host."""
    spec = ACTIONS[action]
    check_not_locked(ctx, instance)
    if instance.host_id is None:
        raise InstanceInvalidState(
            f"Cannot '{action}' instance {instance.pk} while it is in vm_state {instance.vm_state}"
        )
    with transaction.atomic():
        updated = Instance.objects.filter(
            pk=instance.pk, deleted=False, vm_state__in=spec.allowed, task_state=TaskState.NONE
        ).update(task_state=spec.task_state, task_started_at=timezone.now(), updated_at=timezone.now())
        if not updated:
            current = Instance.objects.filter(pk=instance.pk).values("vm_state", "task_state").first() or {}
            state = current.get("task_state") or current.get("vm_state") or instance.vm_state
            which = "task_state" if current.get("task_state") else "vm_state"
            raise InstanceInvalidState(
                f"Cannot '{action}' instance {instance.pk} while it is in {which} {state}"
            )
        if action in CLOSES_CONSOLES:
            consoles.revoke(instance.pk)
        # Both reboot kinds are logged as "reboot", as Nova does.
        record_action(instance.pk, "reboot" if action == "reboot_hard" else action, ctx, request_id)
        enqueue(spec.task, str(instance.pk), *task_args, queue=instance.host.queue)


def create_snapshot(ctx, instance: Instance, name: str, metadata: dict | None = None, request_id: str = ""):
    """Record the new image (owned by the instance's project, queued) and start the snapshot;
    the agent uploads the disk through the image service's upload pipeline."""
    with transaction.atomic():
        image = snapshot_image(ctx, instance, name, metadata)
        begin_action(ctx, instance, "createImage", str(image.pk), request_id=request_id)
    return image


def create_backup(
    ctx,
    instance: Instance,
    name: str,
    backup_type: str,
    rotation: int,
    metadata: dict | None = None,
    request_id: str = "",
):
    """Nova's createBackup: a snapshot marked as a backup of ``backup_type``; once it is stored the
    agent deletes the oldest backups of that type of the instance beyond ``rotation``."""
    if not instance.image_id:
        raise BadRequest("Backup is not supported for volume-backed instances.")
    extra = {**(metadata or {}), "image_type": "backup", "backup_type": backup_type}
    with transaction.atomic():
        image = snapshot_image(ctx, instance, name, extra, image_type="backup")
        args = (str(image.pk), backup_type, rotation)
        begin_action(ctx, instance, "createBackup", *args, request_id=request_id)
    return image


def rotate_backups(instance_id, project_id: str, backup_type: str, rotation: int) -> int:
    """Delete the instance's backups of ``backup_type`` beyond the newest ``rotation``; the count."""
    backups = (
        Image.objects.alive()
        .filter(
            owner=project_id,
            properties__image_type="backup",
            properties__backup_type=backup_type,
            properties__instance_uuid=str(instance_id),
        )
        .order_by("-created_at", "-id")
    )
    removed = 0
    for image in list(backups[max(rotation, 0) :]):
        with contextlib.suppress(NotFound):  # deleted by its owner meanwhile
            image_services.delete_image(image)
            removed += 1
    return removed


def snapshot_image(ctx, instance: Instance, name: str, metadata: dict | None = None, image_type="snapshot"):
    """The queued image a snapshot of the instance's root disk goes into (createImage, shelve)."""
    # Like Nova, the snapshot keeps the properties that say how to boot it.
    inherited = {
        k: v
        for k, v in instance.image_properties.items()
        if (k.startswith(("hw_", "os_", "img_")) or k == "architecture") and not k.startswith("os_glance")
    }
    properties = {
        **inherited,
        **(metadata or {}),
        "instance_uuid": str(instance.pk),
        "image_type": image_type,
        "base_image_ref": instance.image_id,
        "owner_project_name": instance.project.name,
        "user_id": ctx.user.pk,
    }
    return image_services.create_image(
        instance.project_id,
        {
            "name": name,
            "disk_format": DiskFormat.QCOW2,
            "container_format": ContainerFormat.BARE,
            "visibility": Visibility.PRIVATE,
            "min_disk": instance.root_gb,
            "min_ram": 0,
        },
        {k: str(v) for k, v in properties.items()},
        [],
    )


def finish_task(instance_id, expected_task: str, **fields) -> bool:
    """The agent's end of an action: clear the task state and set ``fields``, only if the task
    state is still ``expected_task``. False: somebody else (a delete, the sweeper) got there first."""
    now = timezone.now()
    return bool(
        Instance.objects.filter(pk=instance_id, deleted=False, task_state=expected_task).update(
            task_state=TaskState.NONE, task_started_at=None, updated_at=now, **fields
        )
    )


def set_error(
    instance_id, message: str, *, expected_task: str | None = None, code: int = 500, details: str = ""
) -> bool:
    """Instance → ERROR with a fault, task state cleared ("all states may go to ERROR"). Not an
    instance in a live migration that has a target: that one ends as a failed migration
    (services.live_migration.failed: the target's claim and half-made guest go too)."""
    qs = Instance.objects.filter(pk=instance_id, deleted=False).exclude(
        task_state=TaskState.MIGRATING, live_migration_target__isnull=False
    )
    if expected_task is not None:
        qs = qs.filter(task_state=expected_task)
    now = timezone.now()
    return bool(
        qs.update(
            vm_state=VmState.ERROR,
            task_state=TaskState.NONE,
            task_started_at=None,
            fault_code=code,
            fault_message=message[:255],
            fault_details=details,
            fault_at=now,
            updated_at=now,
        )
    )


# --- delete ------------------------------------------------------------------------------------


def begin_delete(ctx, instance: Instance, request_id: str = "") -> None:
    """Delete works in every state. With no host, or a host that is down, the instance is
    deleted in the database at once (Nova's local delete); the agent destroys a leftover guest
    when it comes back. Otherwise the host's agent tears the guest down."""
    check_not_locked(ctx, instance)
    with transaction.atomic():
        updated = (
            Instance.objects.filter(pk=instance.pk, deleted=False)
            .exclude(task_state=TaskState.DELETING)
            .update(task_state=TaskState.DELETING, task_started_at=timezone.now(), updated_at=timezone.now())
        )
        if not updated:
            if not Instance.objects.filter(pk=instance.pk, deleted=False).exists():
                raise NotFound(f"Instance {instance.pk} could not be found.")
            raise InstanceInvalidState(f"Instance {instance.pk} is already being deleted.")
        consoles.revoke(instance.pk)
        record_action(instance.pk, "delete", ctx, request_id)
        host = ComputeHost.objects.filter(pk=instance.host_id).first() if instance.host_id else None
        if host is None or not host.is_up:
            finish_delete(instance.pk)
            finish_action(instance.pk, "delete")
        else:
            enqueue("instances.delete", str(instance.pk), queue=host.queue)


def finish_delete(instance_id) -> bool:
    """Mark the instance deleted and give back its host claim, in one transaction; only one
    caller can win the conditional UPDATE, so the claim is released exactly once. Quota usage
    is counted from live instances, so it drops with the same UPDATE."""
    with transaction.atomic():
        row = (
            Instance.objects.filter(pk=instance_id, deleted=False)
            .values(
                "host_id",
                "vcpus",
                "memory_mb",
                "root_gb",
                "ephemeral_gb",
                "old_flavor",
                "resize_source_id",
                "resize_target_id",
                "live_migration_target_id",
                "shelved_image_id",
            )
            .first()
        )
        if row is None:
            return False
        now = timezone.now()
        updated = Instance.objects.filter(pk=instance_id, deleted=False).update(
            deleted=True,
            deleted_at=now,
            terminated_at=now,
            vm_state=VmState.DELETED,
            task_state=TaskState.NONE,
            task_started_at=None,
            power_state=PowerState.NOSTATE,
            live_migration_target=None,
            updated_at=now,
        )
        if updated:
            release_for_instance(instance_id)
            forwards.release_for_instance(instance_id)
        if updated:
            claims.release_claims(row)
            migrations.settle_on_delete(instance_id)
        if updated and row["shelved_image_id"]:  # Nova deletes a shelved instance's snapshot too
            shelved = (
                Image.objects.filter(pk=row["shelved_image_id"]).exclude(status=ImageStatus.DELETED).first()
            )
            if shelved is not None and not shelved.protected:
                transaction.on_commit(lambda: _forget_image(shelved))
        return bool(updated)


def _forget_image(image) -> None:
    with contextlib.suppress(StratusError):  # deleted by its owner meanwhile
        image_services.delete_image(image)
