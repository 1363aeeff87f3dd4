"""The compute agent's share of volumes: plugging them into guests and taking them out, and
writing a boot volume before the build spawns the guest. Mixed into ComputeManager."""

from __future__ import annotations

import logging

from instances.choices import VolumeStatus
from instances.compute.errors import BuildAbort
from instances.models import Instance, VolumeAttachment
from instances.services import attachments, volumes
from instances.virt.base import DiskSpec, GuestNotFound, VirtError

log = logging.getLogger(__name__)


class VolumeAgentMixin:
    def volume_disks(self, instance: Instance) -> list[DiskSpec]:
        """The instance's volumes as guest disks (the boot volume, if any, as vda)."""
        return [
            DiskSpec(str(a.volume.path), a.volume.format, a.device)
            for a in attachments.attached_disks(instance.pk)
            if a.volume.status != VolumeStatus.CREATING
        ]

    def prepare_boot_volume(self, instance: Instance) -> bool:
        """Write a new boot volume (creating → attaching) before the guest starts. True when the
        instance boots from a volume; BuildAbort when the volume cannot be made."""
        attachment = attachments.boot_attachment(instance.pk)
        if attachment is None:
            return False
        volume = attachment.volume
        if volume.status == VolumeStatus.CREATING:
            volumes.populate(volume.pk, ready=VolumeStatus.ATTACHING)
            volume.refresh_from_db()
        if volume.status not in (VolumeStatus.ATTACHING, VolumeStatus.IN_USE):
            raise BuildAbort(f"Boot volume {volume.pk} is {volume.status}: {volume.error_message}")
        return True

    def finish_boot_volume(self, instance: Instance) -> None:
        attachment = attachments.boot_attachment(instance.pk)
        if attachment is not None:
            attachments.finish_attach(attachment.pk)

    def _attachment(self, attachment_id: str, status: str) -> VolumeAttachment | None:
        return (
            VolumeAttachment.objects.select_related("volume", "instance")
            .filter(pk=attachment_id, instance__host__name=self.host_name, volume__status=status)
            .first()
        )

    def attach_volume(self, attachment_id: str) -> None:
        found = self._attachment(attachment_id, VolumeStatus.ATTACHING)
        if found is None:
            return
        with self.op_lock(str(found.instance_id)):
            attachment = self._attachment(attachment_id, VolumeStatus.ATTACHING)
            if attachment is None:
                return
            uuid, volume = str(attachment.instance_id), attachment.volume
            disk = DiskSpec(str(volume.path), volume.format, attachment.device)
            try:
                if not volume.path.is_file():
                    raise VirtError(f"this host cannot see volume file {volume.path}")
                if self._plugged(uuid, attachment.device) != disk.path:
                    self.driver.attach_disk(uuid, disk)
            except GuestNotFound:
                pass  # never spawned: the next start builds its spec with the volume
            except VirtError as exc:
                log.warning("attaching volume %s to %s failed: %s", volume.pk, uuid, exc)
                attachments.undo_attach(volume.pk, f"Attach failed: {exc}")
                return
            attachments.finish_attach(attachment.pk)

    def detach_volume(self, attachment_id: str) -> None:
        found = self._attachment(attachment_id, VolumeStatus.DETACHING)
        if found is None:
            return
        with self.op_lock(str(found.instance_id)):
            attachment = self._attachment(attachment_id, VolumeStatus.DETACHING)
            if attachment is None:
                return
            uuid = str(attachment.instance_id)
            try:
                if self._plugged(uuid, attachment.device) is not None:
                    self.driver.detach_disk(uuid, attachment.device)
            except VirtError as exc:
                log.warning("detaching volume %s from %s failed: %s", attachment.volume_id, uuid, exc)
                attachments.fail_detach(attachment.pk, f"Detach failed: {exc}")
                return
            attachments.finish_detach(attachment.pk)

    def _plugged(self, uuid: str, target: str) -> str | None:
        """The path of the guest's disk ``target`` in its saved spec (None: not there)."""
        try:
            disk = self.driver.saved_spec(uuid).disk(target)
        except GuestNotFound:
            return None
        return disk.path if disk is not None else None
