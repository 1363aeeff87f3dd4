"""Volumes on instances: attach, detach, boot volumes, and what an instance's delete does to
its volumes. The API claims the volume with a conditional UPDATE and records the attachment;
the instance's compute agent plugs the disk in (QMP hot-plug on a running guest, the saved
spec of a stopped one) and finishes the transition."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest, Conflict, NotFound
from flavors.models import Flavor
from instances.choices import VmState, VolumeStatus
from instances.models import Instance, Volume, VolumeAttachment
from instances.services import volumes
from instances.services.locks import check_not_locked
from instances.services.volumes import InvalidVolume, require, transition

# vda is the root disk, vdh the swap disk (see instances.compute.manager.SWAP_TARGET).
VOLUME_TARGETS = ("vdb", "vdc", "vdd", "vde", "vdf", "vdg")
ATTACHABLE_VM_STATES = (VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED)
# Nova detaches in these vm_states only (a rescued server, for one, answers 409).
DETACHABLE_VM_STATES = (*ATTACHABLE_VM_STATES, VmState.RESIZED, VmState.SHELVED, VmState.SHELVED_OFFLOADED)


def next_device(instance: Instance) -> str:
    """The first free virtio target after the flavor's disks: vdb is the ephemeral disk when
    the flavor has one, so the seeds' instance (root vda, ephemeral vdb) gets vdc."""
    used = set(VolumeAttachment.objects.filter(instance=instance).values_list("device", flat=True))
    if instance.ephemeral_gb:
        used.add("vdb")
    free = [t for t in VOLUME_TARGETS if t not in used]
    if not free:
        raise BadRequest(f"Instance {instance.pk} has no free device for another volume.")
    return free[0]


def _check_instance(instance: Instance) -> None:
    if instance.host_id is None or instance.vm_state not in ATTACHABLE_VM_STATES or instance.task_state:
        state = instance.task_state or instance.vm_state
        raise Conflict(
            f"Cannot 'attach_volume' instance {instance.pk} while it is in "
            f"{'task_state' if instance.task_state else 'vm_state'} {state}"
        )


def begin_attach(ctx, instance: Instance, volume: Volume, device: str | None = None) -> VolumeAttachment:

    if volume.project_id != instance.project_id:
        raise NotFound(f"Volume {volume.pk} could not be found.")
    check_not_locked(ctx, instance)
    _check_instance(instance)
    with transaction.atomic():
        require(
            volume.pk,
            VolumeStatus.AVAILABLE,
            VolumeStatus.ATTACHING,
            "attach it",
            previous_status=VolumeStatus.AVAILABLE,
        )
        target = next_device(instance)
        if device and device.removeprefix("/dev/") != target:
            target = device.removeprefix("/dev/")
            if target not in VOLUME_TARGETS:
                raise BadRequest(f"The supplied device path ({device}) is invalid.")
        try:
            with transaction.atomic():
                attachment = VolumeAttachment.objects.create(volume=volume, instance=instance, device=target)
        except IntegrityError as exc:
            raise BadRequest(f"The supplied device path ({device or target}) is in use.") from exc
        enqueue("instances.attach_volume", str(attachment.pk), queue=instance.host.queue)
    return attachment


def finish_attach(attachment_id) -> bool:
    attachment = VolumeAttachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        return False
    with transaction.atomic():
        done = transition(attachment.volume_id, VolumeStatus.ATTACHING, VolumeStatus.IN_USE, error_message="")
        if done:
            VolumeAttachment.objects.filter(pk=attachment_id).update(attached_at=timezone.now())
    return done


def undo_attach(volume_id, message: str) -> bool:
    """attaching → available and the attachment gone (the agent could not plug it in)."""
    with transaction.atomic():
        done = transition(
            volume_id, VolumeStatus.ATTACHING, VolumeStatus.AVAILABLE, error_message=message[:255]
        )
        if done:
            VolumeAttachment.objects.filter(volume_id=volume_id).delete()
    return done


def begin_detach(ctx, instance: Instance, volume: Volume) -> VolumeAttachment:

    attachment = VolumeAttachment.objects.filter(volume=volume, instance=instance).first()
    if attachment is None:
        raise NotFound(f"Volume {volume.pk} is not attached to instance {instance.pk}.")
    if attachment.device == "vda":
        raise BadRequest("Cannot detach a root device volume")
    check_not_locked(ctx, instance)
    if instance.task_state or instance.host_id is None:
        raise Conflict(
            f"Cannot 'detach_volume' instance {instance.pk} while it is in task_state {instance.task_state}"
        )
    if instance.vm_state not in DETACHABLE_VM_STATES:
        raise Conflict(
            f"Cannot 'detach_volume' instance {instance.pk} while it is in vm_state {instance.vm_state}"
        )
    with transaction.atomic():
        require(
            volume.pk,
            VolumeStatus.IN_USE,
            VolumeStatus.DETACHING,
            "detach it",
            previous_status=VolumeStatus.IN_USE,
        )
        enqueue("instances.detach_volume", str(attachment.pk), queue=instance.host.queue)
    return attachment


def finish_detach(attachment_id) -> bool:
    attachment = VolumeAttachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        return False
    with transaction.atomic():
        done = transition(
            attachment.volume_id, VolumeStatus.DETACHING, VolumeStatus.AVAILABLE, error_message=""
        )
        if done:
            VolumeAttachment.objects.filter(pk=attachment_id).delete()
    return done


def fail_detach(attachment_id, message: str) -> bool:
    attachment = VolumeAttachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        return False
    return transition(
        attachment.volume_id, VolumeStatus.DETACHING, VolumeStatus.IN_USE, error_message=message[:255]
    )


def release_for_instance(instance_id) -> None:
    """The instance is gone: its volumes are detached and kept, except those whose attachment
    says delete_on_termination, which are deleted. Runs in the instance delete's transaction."""
    for attachment in VolumeAttachment.objects.filter(instance_id=instance_id).select_related("volume"):
        volume = attachment.volume
        attachment.delete()
        if attachment.delete_on_termination:
            # Whatever state it was in (a boot volume still being created too), it goes.
            if transition(
                volume.pk, tuple(VolumeStatus), VolumeStatus.DELETING, previous_status=VolumeStatus.AVAILABLE
            ):
                enqueue("instances.delete_volume", str(volume.pk), queue=volumes.VOLUME_QUEUE)
        elif volume.status == VolumeStatus.CREATING:
            continue  # the agent that writes it finishes it as available
        else:
            transition(volume.pk, tuple(VolumeStatus), VolumeStatus.AVAILABLE, pending={})


# --- boot from volume -------------------------------------------------------------------------


@dataclass
class BootVolume:
    """What ``block_device_mapping_v2`` asked for as the root disk: a new volume made from
    ``image`` of ``size`` GB, or the existing ``volume``."""

    image: object | None = None
    volume: Volume | None = None
    size: int | None = None
    delete_on_termination: bool = False

    def check(self, ctx, flavor: Flavor) -> int:
        """Refuse what cannot boot; the root disk claims no local disk (it is the volume)."""
        if self.volume is not None:
            if self.volume.project_id != ctx.project_id:
                raise BadRequest(f"Invalid volume: volume {self.volume.pk} could not be found.")
            if self.volume.status != VolumeStatus.AVAILABLE:
                raise InvalidVolume(
                    f"Invalid volume: volume {self.volume.pk} status must be available, "
                    f"not {self.volume.status}."
                )
            if not self.volume.bootable:
                raise InvalidVolume(f"Invalid volume: volume {self.volume.pk} is not bootable.")
        else:
            volumes.check_image(self.image)
            self.size = volumes.check_size(self.size or flavor.disk or 0, self.image)
            if self.image.min_ram > flavor.ram:
                raise BadRequest("Flavor's memory is too small for requested image.")
        return 0

    @property
    def image_properties(self) -> dict:
        if self.image is not None:
            return dict(self.image.properties or {})
        return {
            k: v
            for k, v in self.volume.volume_image_metadata.items()
            if k not in settings.VOLUME_IMAGE_CORE_PROPERTIES
        }

    def attach(self, ctx, instance: Instance) -> Volume:
        """In the launch transaction: the volume (new, creating; or claimed, attaching) is
        attached as vda before the build is sent."""
        if self.volume is not None:
            require(
                self.volume.pk,
                VolumeStatus.AVAILABLE,
                VolumeStatus.ATTACHING,
                "boot from it",
                previous_status=VolumeStatus.AVAILABLE,
            )
            volume = self.volume
        else:
            volume = volumes.create_volume(ctx, size=self.size, name="", image=self.image, populate=False)
        VolumeAttachment.objects.create(
            volume=volume, instance=instance, device="vda", delete_on_termination=self.delete_on_termination
        )
        return volume


def boot_attachment(instance_id) -> VolumeAttachment | None:
    return (
        VolumeAttachment.objects.select_related("volume")
        .filter(instance_id=instance_id, device="vda")
        .first()
    )


def attached_disks(instance_id) -> list[VolumeAttachment]:
    return list(VolumeAttachment.objects.select_related("volume").filter(instance_id=instance_id))
