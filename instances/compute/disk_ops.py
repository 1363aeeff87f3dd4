"""The compute agent's share of resize, rebuild and rescue: the work that replaces or moves an
instance's disks. Mixed into ComputeManager; the state changes are in services.resize and
services.rebuild.

Resize keeps the old disks until confirm: the old host moves the instance's disk directory to
``<state_dir>/resize/<uuid>`` (out of ``disks/``, which the orphan sweep owns) and the new host
builds its own directory from it: the root overlay copied, pointed at the new host's own copy of
the base image (fetched through its image cache) and grown; the ephemeral disk copied and grown;
swap made new. A resize on the same host reads the directory by path; a move to another host
(resize or cold migration) streams the files from the old host's transfer endpoint, verified
against the hashes the old host took (instances.compute.transfer): no shared file system needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
from pathlib import Path

from django.conf import settings

from images.models import Image
from instances.choices import MigrationStatus, TaskState, VmState
from instances.compute import transfer
from instances.compute.errors import BuildAbort
from instances.models import ComputeHost, Instance
from instances.services import evacuate, kernels, migrations, rebuild, resize, servers
from instances.virt import disks
from instances.virt.base import DiskSpec, GuestNotFound, VirtError

log = logging.getLogger(__name__)

FAILURES = (BuildAbort, VirtError, OSError)
SWAP_TARGET = "vdh"  # vdc…vdg stay free for volumes
RESCUE_DISK = "disk.rescue"


class DiskOpsMixin:
    # -- helpers -----------------------------------------------------------------------------

    def resize_dir(self, uuid: str) -> Path:
        return self.state_dir / "resize" / uuid

    def _shut_down(self, instance: Instance) -> None:
        """Clean power-off (the disk is kept and used again), then the guest is undefined; its
        disks stay."""
        uuid = str(instance.pk)
        with contextlib.suppress(GuestNotFound):
            self.driver.power_off(uuid, timeout=settings.COMPUTE_SHUTDOWN_TIMEOUT)
        self.driver.destroy(uuid)

    def _unplug(self, instance: Instance) -> None:
        if self.networks is not None and instance.network is not None and instance.address:
            self.networks.unplug(instance)

    def _failed(self, instance: Instance, task: str, action: str, message: str) -> None:
        log.warning("%s of instance %s failed: %s", action, instance.pk, message)
        if servers.set_error(instance.pk, message, expected_task=task):
            servers.finish_action(instance.pk, action, "Error", message)

    def prune_resize_dirs(self) -> int:
        """Old disks kept for a revert whose resize is over (confirmed while this host was down,
        or the instance deleted)."""
        root = self.state_dir / "resize"
        if not root.is_dir():
            return self.prune_incoming()
        keep = {
            str(pk)
            for pk in Instance.objects.alive()
            .filter(resize_source__name=self.host_name)
            .values_list("pk", flat=True)
        }
        removed = 0
        for path in root.iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed + self.prune_incoming()

    def prune_incoming(self) -> int:
        """Disks fetched for a move that is no longer being finished here (the agent stopped
        during the fetch, or the move failed)."""
        root = self.state_dir / "incoming"
        if not root.is_dir():
            return 0
        arriving = {
            str(pk)
            for pk in Instance.objects.alive()
            .filter(host__name=self.host_name, task_state=TaskState.RESIZE_MIGRATED)
            .values_list("pk", flat=True)
        }
        removed = 0
        for path in root.iterdir():
            if path.name not in arriving:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed

    # -- resize: old host, new host, confirm, revert -----------------------------------------

    def resize(self, instance_id: str) -> None:
        """Old host: stop the guest and set its disks aside for the new host (and a revert)."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.RESIZE_PREP)
            if instance is None:
                return
            uuid = str(instance.pk)
            current, aside = self.disks_dir / uuid, self.resize_dir(uuid)
            try:
                self._shut_down(instance)
                self._unplug(instance)
                if current.exists():
                    shutil.rmtree(aside, ignore_errors=True)  # a half-done earlier attempt
                    aside.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(current, aside)
                elif not aside.is_dir():
                    raise VirtError(f"the disks of instance {uuid} are missing")
                # Another host fetches the disks through our transfer endpoint: it checks them
                # against these hashes.
                files = transfer.manifest(aside) if instance.resize_target_id != instance.host_id else {}
            except FAILURES as exc:
                self._abort_resize(instance, exc)
                return
            resize.disks_moved(instance.pk, str(aside), files)

    def _abort_resize(self, instance: Instance, exc: BaseException) -> None:
        uuid = str(instance.pk)
        current, aside = self.disks_dir / uuid, self.resize_dir(uuid)
        if aside.is_dir() and not current.exists():
            os.replace(aside, current)
        if not resize.abort_resize(instance.pk, f"Resize of instance {uuid} failed: {exc}"):
            return
        instance = self._mine(uuid, TaskState.NONE)
        if instance is not None and instance.vm_state == VmState.ACTIVE:
            try:
                self.driver.spawn(self.plugged_spec(instance))
            except VirtError as again:
                log.warning("instance %s could not be started again after a failed resize: %s", uuid, again)

    def finish_resize(self, instance_id: str, source_dir: str, files: dict | None = None) -> None:
        """New host: disks for the new flavor from the old ones (fetched from the old host when it
        is another one), then start as the instance was."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.RESIZE_MIGRATED)
            if instance is None:
                return
            uuid = str(instance.pk)
            running = instance.old_flavor.get("vm_state") == VmState.ACTIVE
            incoming = self.state_dir / "incoming" / uuid
            try:
                source = Path(source_dir)
                if instance.resize_source_id not in (None, instance.host_id):
                    source = self._fetch_disks(instance, source_dir, files or {}, incoming)
                self._resized_disks(instance, source, self.disks_dir / uuid)
                if running:
                    self.driver.spawn(self.plugged_spec(instance))
            except FAILURES as exc:
                with contextlib.suppress(VirtError):
                    self.driver.destroy(uuid)
                shutil.rmtree(self.disks_dir / uuid, ignore_errors=True)
                action = migrations.action_of(instance.pk)
                message = f"{action.capitalize()} of instance {uuid} failed on host {self.host_name}: {exc}"
                migrations.advance(instance.pk, MigrationStatus.ERROR, error=message)
                self._failed(instance, TaskState.RESIZE_MIGRATED, action, message)
                return
            finally:
                shutil.rmtree(incoming, ignore_errors=True)
            resize.finish_resize(instance.pk, running)

    def _fetch_disks(self, instance: Instance, source_dir: str, files: dict, incoming: Path) -> Path:
        """The old host's disks of the instance, streamed from its transfer endpoint into
        ``incoming`` and verified against the hashes the old host took."""
        source_host = ComputeHost.objects.filter(pk=instance.resize_source_id).first()
        url = (source_host.capabilities or {}).get("transfer", "") if source_host else ""
        if not url:
            if (Path(source_dir) / "disk").is_file():  # an agent without an endpoint, on this machine
                return Path(source_dir)
            raise VirtError(f"the old host of instance {instance.pk} has no disk transfer endpoint")
        if "disk" not in files:
            raise VirtError(f"the old host listed no root disk of instance {instance.pk}")
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        for name, expected in files.items():
            if name not in transfer.FILES:
                raise VirtError(f"the old host offered an unexpected file {name!r}")
            transfer.fetch(url, str(instance.pk), name, expected, incoming / name)
        return incoming

    def _resized_disks(self, instance: Instance, source: Path, target: Path) -> None:
        if not (source / "disk").is_file():
            raise VirtError(f"the old root disk of instance {instance.pk} is not at {source}")
        shutil.rmtree(target, ignore_errors=True)  # a half-done earlier attempt
        target.mkdir(parents=True)
        paths = self.disk_paths(str(instance.pk))
        base, fmt = self._cached_image(instance.image_id)
        shutil.copyfile(source / "disk", paths["vda"])
        disks.rebase_onto(paths["vda"], base, fmt)
        disks.grow(paths["vda"], "qcow2", instance.root_gb)
        for image_id in kernels.boot_file_ids(instance.image_properties).values():
            self._cached_image(image_id)
        if instance.ephemeral_gb:
            if (source / "disk.eph0").is_file():
                shutil.copyfile(source / "disk.eph0", paths["vdb"])
                disks.grow(paths["vdb"], "qcow2", instance.ephemeral_gb)
            else:
                disks.create_blank(paths["vdb"], instance.ephemeral_gb)
        if instance.swap_mb:
            disks.create_blank(paths[SWAP_TARGET], size_mb=instance.swap_mb)

    def confirm_resize(self, instance_id: str) -> None:
        """Old host, after the confirm: its copy of the old disks goes."""
        with self.op_lock(instance_id):
            again = Instance.objects.filter(pk=instance_id, deleted=False, resize_source__name=self.host_name)
            if not again.exists():  # a newer resize from this host keeps its own old disks
                shutil.rmtree(self.resize_dir(str(instance_id)), ignore_errors=True)
            servers.finish_action(instance_id, "confirmResize")

    def revert_resize(self, instance_id: str) -> None:
        """New host: the resized guest and its disks go; the old host takes over again."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.RESIZE_REVERTING)
            if instance is None or instance.resize_target_id is None:
                return
            uuid = str(instance.pk)
            try:
                self.driver.destroy(uuid)
                self._unplug(instance)
                shutil.rmtree(self.disks_dir / uuid, ignore_errors=True)
            except VirtError as exc:
                self._failed(instance, TaskState.RESIZE_REVERTING, "revertResize", f"Revert failed: {exc}")
                return
            resize.reverted_on_target(instance.pk)

    def finish_revert_resize(self, instance_id: str) -> None:
        """Old host: the old disks back in place, the guest started with the old flavor."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.RESIZE_REVERTING)
            if instance is None or instance.resize_target_id is not None:
                return
            uuid = str(instance.pk)
            current, aside = self.disks_dir / uuid, self.resize_dir(uuid)
            running = instance.old_flavor.get("vm_state") == VmState.ACTIVE
            try:
                if aside.is_dir():
                    shutil.rmtree(current, ignore_errors=True)
                    os.replace(aside, current)
                elif not current.is_dir():
                    raise VirtError(f"the old disks of instance {uuid} are gone")
                if running:
                    self.driver.spawn(self.plugged_spec(instance))
            except FAILURES as exc:
                self._failed(instance, TaskState.RESIZE_REVERTING, "revertResize", f"Revert failed: {exc}")
                return
            resize.finish_revert(instance.pk, running)

    # -- rebuild ---------------------------------------------------------------------------------

    def rebuild(self, instance_id: str, preserve_ephemeral: bool = False) -> None:
        """A new root disk from the instance's (new) image; ephemeral kept if asked, swap kept."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.REBUILDING)
            if instance is None:
                return
            uuid = str(instance.pk)
            paths = self.disk_paths(uuid)
            running = instance.vm_state != VmState.STOPPED
            try:
                self.driver.destroy(uuid)  # the old root disk is thrown away: no clean shutdown needed
                disks.remove(paths["vda"], self.config_drive_path(instance))
                if not preserve_ephemeral:
                    disks.remove(paths["vdb"])
                base, fmt = self._cached_image(instance.image_id)
                disks.create_overlay(base, fmt, paths["vda"], instance.root_gb)
                for image_id in kernels.boot_file_ids(instance.image_properties).values():
                    self._cached_image(image_id)
                if instance.ephemeral_gb and not paths["vdb"].exists():
                    disks.create_blank(paths["vdb"], instance.ephemeral_gb)
                if instance.swap_mb and not paths[SWAP_TARGET].exists():
                    disks.create_blank(paths[SWAP_TARGET], size_mb=instance.swap_mb)
                if running:
                    self.driver.spawn(self.plugged_spec(instance))
            except FAILURES as exc:
                self._failed(
                    instance, TaskState.REBUILDING, "rebuild", f"Rebuild of instance {uuid} failed: {exc}"
                )
                return
            rebuild.finish_rebuild(instance.pk, running)

    # -- evacuate --------------------------------------------------------------------------------

    def evacuate(self, instance_id: str) -> None:
        """New host of an instance whose old host is down: new disks from its image (a boot volume
        is attached as it was), then started unless it was stopped."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.REBUILDING)
            if instance is None:
                return
            uuid = str(instance.pk)
            running = instance.vm_state != VmState.STOPPED
            try:
                with contextlib.suppress(GuestNotFound):
                    self.driver.destroy(uuid)  # a half-done earlier attempt
                self._create_disks(instance)
                if running:
                    self.driver.spawn(self.plugged_spec(instance))
            except FAILURES as exc:
                with contextlib.suppress(VirtError):
                    self.driver.destroy(uuid)
                shutil.rmtree(self.disks_dir / uuid, ignore_errors=True)
                message = f"Evacuation of instance {uuid} to host {self.host_name} failed: {exc}"
                evacuate.fail_evacuate(instance.pk, message)
                self._failed(instance, TaskState.REBUILDING, "evacuate", message)
                return
            evacuate.finish_evacuate(instance.pk, running)

    # -- rescue ----------------------------------------------------------------------------------

    def rescue(self, instance_id: str, image_id: str) -> None:
        """Boot the rescue image as vda with the instance's root disk as vdb."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.RESCUING)
            if instance is None:
                return
            uuid = str(instance.pk)
            rescue_disk = self.disks_dir / uuid / RESCUE_DISK
            try:
                self._shut_down(instance)
                disks.remove(rescue_disk)
                base, fmt = self._cached_image(image_id)
                disks.create_overlay(base, fmt, rescue_disk, 0)
                self.driver.spawn(self._rescue_spec(instance, image_id, rescue_disk))
            except FAILURES as exc:
                with contextlib.suppress(VirtError):
                    self.driver.destroy(uuid)
                disks.remove(rescue_disk)
                self._failed(
                    instance, TaskState.RESCUING, "rescue", f"Rescue of instance {uuid} failed: {exc}"
                )
                return
            rebuild.finish_rescue(instance.pk)

    def _rescue_spec(self, instance: Instance, image_id: str, rescue_disk: Path):
        spec = self.plugged_spec(instance)
        root = spec.disk("vda")
        if root is None:
            raise VirtError(f"instance {instance.pk} has no root disk to rescue")
        props = dict((Image.objects.filter(pk=image_id).values_list("properties", flat=True).first()) or {})
        boot = kernels.boot_file_ids(props)
        kernel = str(self._cached_image(boot["kernel_id"])[0]) if "kernel_id" in boot else ""
        ramdisk = str(self._cached_image(boot["ramdisk_id"])[0]) if "ramdisk_id" in boot else ""
        return dataclasses.replace(
            spec,
            disks=(DiskSpec(str(rescue_disk), "qcow2", "vda"), DiskSpec(root.path, root.format, "vdb")),
            kernel=kernel,
            ramdisk=ramdisk,
            cmdline=(props.get("os_command_line") or kernels.DEFAULT_CMDLINE) if kernel else "",
        )

    def unrescue(self, instance_id: str) -> None:
        """Back to the instance's own disks."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.UNRESCUING)
            if instance is None:
                return
            uuid = str(instance.pk)
            try:
                self.driver.destroy(uuid)
                disks.remove(self.disks_dir / uuid / RESCUE_DISK)
                self.driver.spawn(self.plugged_spec(instance))
            except FAILURES as exc:
                self._failed(
                    instance, TaskState.UNRESCUING, "unrescue", f"Unrescue of instance {uuid} failed: {exc}"
                )
                return
            rebuild.finish_unrescue(instance.pk)
