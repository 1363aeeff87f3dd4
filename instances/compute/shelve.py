"""The host's side of shelving (see instances.services.shelve): power off and snapshot; destroy the
guest and its local disks on offload; boot a copy of the snapshot on unshelve. Each step acts only
while the instance is in the task state the API gave it, under the per-instance lock, so a task
delivered twice finds nothing to do."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from instances.choices import TaskState
from instances.compute.errors import BuildAbort
from instances.models import ComputeHost, Instance
from instances.services import servers, shelve
from instances.virt.base import GuestNotFound, VirtError

log = logging.getLogger(__name__)


class ShelveMixin:
    """Mixed into ComputeManager (it provides op_lock, _mine, driver, disk_paths and the rest)."""

    def shelve(self, instance_id: str, image_id: str = "") -> None:
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.SHELVING)
            if instance is None:
                return
            try:
                with contextlib.suppress(GuestNotFound):
                    self.driver.power_off(str(instance.pk), timeout=settings.COMPUTE_SHUTDOWN_TIMEOUT)
            except VirtError as exc:
                self._settle(instance, TaskState.SHELVING)
                servers.finish_action(instance.pk, "shelve", "Error", str(exc))
                return
            error = self._upload_snapshot(instance, image_id) if image_id else ""
            if error:
                self._settle(instance, TaskState.SHELVING)  # off, with its disks: SHUTOFF
                servers.finish_action(instance.pk, "shelve", "Error", error)
                return
            # Volume-backed instances have nothing to keep here: Nova offloads them at once.
            offload = not image_id or settings.COMPUTE_SHELVED_OFFLOAD_TIME == 0
            if not shelve.finish_shelve(instance.pk, image_id, offload):
                return
            servers.finish_action(instance.pk, "shelve")
            if offload:
                self._offload(instance)

    def shelve_offload(self, instance_id: str) -> None:
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.SHELVING_OFFLOADING)
            if instance is None:
                return
            if self._offload(instance):
                servers.finish_action(instance.pk, "shelveOffload")

    def offload_shelved(self) -> list[str]:
        """Periodic: offload what has been shelved here for COMPUTE_SHELVED_OFFLOAD_TIME (Nova's
        _poll_shelved_instances); -1 never does."""
        delay = settings.COMPUTE_SHELVED_OFFLOAD_TIME
        if delay < 0:
            return []
        host = ComputeHost.objects.filter(name=self.host_name).first()
        if host is None:
            return []
        done = []
        for instance_id in shelve.offload_due(host, timezone.now() - timedelta(seconds=delay)):
            if shelve.begin_periodic_offload(instance_id):
                with self.op_lock(instance_id):
                    instance = self._mine(instance_id, TaskState.SHELVING_OFFLOADING)
                    if instance is not None and self._offload(instance):
                        done.append(instance_id)
        return done

    def _offload(self, instance: Instance) -> bool:
        """Guest, local disks, tap gone; then the database lets go of the host (claim, forwards)."""
        uuid = str(instance.pk)
        try:
            with contextlib.suppress(GuestNotFound):
                self.driver.power_off(uuid, timeout=settings.COMPUTE_SHUTDOWN_TIMEOUT)
            self.destroy_local(uuid)
            if self.networks is not None and instance.network is not None:
                self.networks.unplug(instance)
        except VirtError as exc:
            message = f"Could not offload instance {uuid}: {exc}"
            servers.set_error(instance.pk, message, expected_task=TaskState.SHELVING_OFFLOADING)
            servers.finish_action(instance.pk, "shelveOffload", "Error", message)
            return False
        released = shelve.finish_offload(instance.pk)
        self.sync_forwards()
        return released

    def unshelve(self, instance_id: str) -> None:
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.UNSHELVING)
            if instance is None:
                return
            uuid = str(instance.pk)
            try:
                if uuid in self.driver.list_defined() and self.disk_paths(uuid)["vda"].exists():
                    self.driver.power_on(self.plugged_spec(instance))  # shelved, never offloaded
                else:
                    # A standalone copy of the snapshot (it is deleted next); blank ephemeral
                    # and swap, as Nova recreates them. Volume-backed: the boot volume is the root.
                    self._create_disks(instance, root_copy_of=instance.shelved_image_id)
                    self.driver.spawn(self.plugged_spec(instance))
            except (BuildAbort, VirtError, OSError) as exc:
                log.warning("unshelve of instance %s failed: %s", uuid, exc)
                with contextlib.suppress(VirtError):
                    self.driver.destroy(uuid)
                message = f"Unshelve of instance {uuid} failed: {exc}"
                servers.set_error(instance.pk, message, expected_task=TaskState.UNSHELVING)
                servers.finish_action(instance.pk, "unshelve", "Error", message)
                return
            self.finish_boot_volume(instance)
            image_id = shelve.finish_unshelve(instance.pk)
            if image_id:
                servers.finish_action(instance.pk, "unshelve")
                shelve.delete_shelved_image(image_id)
