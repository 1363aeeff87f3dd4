"""The compute agent's share of live migration (the steps are described in
services.live_migration; the QEMU side in virt/live_migration.py). Mixed into ComputeManager."""

from __future__ import annotations

import base64
import contextlib
import logging
from pathlib import Path

from django.conf import settings

from instances.choices import TaskState, VmState
from instances.models import Instance
from instances.services import action_log, kernels
from instances.services import live_migration as service
from instances.virt import disks
from instances.virt.base import IncomingEndpoint, VirtError
from instances.virt.base import PowerState as DriverPower
from instances.virt.state import write_atomic

log = logging.getLogger(__name__)

# What a step gives the migration up for: any error, the unexpected ones too (a malformed message,
# a bug): a migration must not be left half done with the target's claim and guest kept.
STEP_FAILURES = (Exception,)
# The end of the source's console log that the target's log starts with, so the log reads on
# across the move.
CONSOLE_TAIL = 256 * 1024
CONFIG_DRIVE_LIMIT = 16 * 1024 * 1024  # it travels in a task message; drives are a few hundred KiB


class LiveMigrationMixin:
    def _migrating_here(self, instance_id: str, *, as_target: bool) -> Instance | None:
        """The instance, while it is migrating from this host (or to it, ``as_target``)."""
        where = (
            {"live_migration_target__name": self.host_name} if as_target else {"host__name": self.host_name}
        )
        instance = (
            Instance.objects.select_related("network", "host", "live_migration_target")
            .filter(pk=instance_id, deleted=False, task_state=TaskState.MIGRATING, **where)
            .first()
        )
        if instance is not None:
            action_log.start_event(instance.pk, TaskState.MIGRATING, self.host_name)
        return instance

    def _shared_disks(self, instance: Instance) -> tuple[str, ...]:
        """The targets of the instance's volumes: files in the volumes directory every compute host
        shares (STRATUS_VOLUMES_DIR), which both guests open and nothing copies."""
        return tuple(sorted(d.target for d in self.volume_disks(instance)))

    def _give_up(self, instance: Instance, step: str, exc: BaseException, **kwargs) -> None:
        message = f"Live migration of instance {instance.pk} failed {step} on host {self.host_name}: {exc}"
        log.warning("%s", message)
        service.failed(instance.pk, message, **kwargs)

    # -- 1. source: what the disks are -----------------------------------------------------------

    def check_live_migration_source(self, instance_id: str) -> None:
        with self.op_lock(instance_id):
            instance = self._migrating_here(instance_id, as_target=False)
            if instance is None:
                return
            uuid = str(instance.pk)
            try:
                if self.driver.power_state(uuid) not in (DriverPower.RUNNING, DriverPower.PAUSED):
                    raise VirtError(f"guest {uuid} is not running here")
                spec = self.driver.saved_spec(uuid)
                shared = self._shared_disks(instance)
                layout: dict = {"disks": [], "config_drive": "", "shared": list(shared)}
                for disk in spec.disks:
                    if disk.readonly or disk.target in shared:
                        continue
                    details = disks.info(disk.path, disk.format, in_use=True)
                    size, overlay = details.virtual_size, bool(details.backing_file)
                    layout["disks"].append({"target": disk.target, "size": size, "overlay": overlay})
                if spec.config_drive:
                    # The guest may have it mounted: the target gets these bytes, not a drive
                    # written anew (that one would have other timestamps).
                    drive = Path(spec.config_drive)
                    if drive.stat().st_size > CONFIG_DRIVE_LIMIT:
                        raise VirtError(
                            f"the config drive of guest {uuid} is over {CONFIG_DRIVE_LIMIT} bytes"
                        )
                    layout["config_drive"] = base64.b64encode(drive.read_bytes()).decode()
            except STEP_FAILURES as exc:
                self._give_up(instance, "before it began", exc)
                return
            service.source_checked(instance.pk, layout)

    # -- 2. target: empty disks, the guest waiting -----------------------------------------------

    def prepare_live_migration(self, instance_id: str, layout: dict) -> None:
        with self.op_lock(instance_id):
            instance = self._migrating_here(instance_id, as_target=True)
            if instance is None:
                return
            uuid = str(instance.pk)
            try:
                self.destroy_local(uuid)  # a half-done earlier attempt
                self._incoming_disks(instance, layout["disks"])
                spec = self.plugged_spec(instance)
                if spec.config_drive and layout.get("config_drive"):
                    write_atomic(Path(spec.config_drive), base64.b64decode(layout["config_drive"]))
                shared = self._shared_disks(instance)
                if set(shared) != set(layout.get("shared", ())):
                    raise VirtError("the instance's volumes changed since the migration began")
                endpoint = self.driver.prepare_incoming(spec, settings.LIVE_MIGRATION_ADDRESS, shared)
            except STEP_FAILURES as exc:
                with contextlib.suppress(VirtError):
                    self.destroy_local(uuid)
                self._give_up(instance, "while preparing its new host", exc)
                return
            service.destination_ready(instance.pk, endpoint.to_dict())

    def _incoming_disks(self, instance: Instance, layout: list[dict]) -> None:
        """Disks the source's will be mirrored onto: an overlay on this host's own copy of the image
        where the source has one (only what the guest wrote travels), else an empty disk; each of
        the source's virtual size, which the mirror requires."""
        by_target = self.disk_paths(str(instance.pk))
        for image_id in kernels.boot_file_ids(instance.image_properties).values():
            self._cached_image(image_id)
        if instance.boots_from_iso:
            self._cached_image(str(instance.image_id))
        for disk in layout:
            path = by_target.get(disk["target"])
            if path is None:
                raise VirtError(f"disk {disk['target']} of instance {instance.pk} has no place on this host")
            if disk["overlay"]:
                if not instance.image_id or instance.boots_from_iso:
                    raise VirtError(f"disk {disk['target']} of instance {instance.pk} is backed by no image")
                base, fmt = self._cached_image(str(instance.image_id))
                disks.create_overlay(base, fmt, path, 0)
            else:
                disks.create_blank(path, size_mb=1)
            disks.resize(path, "qcow2", int(disk["size"]))

    # -- 3. source: the copy ---------------------------------------------------------------------

    def live_migrate(self, instance_id: str, endpoint: dict) -> None:
        with self.op_lock(instance_id):
            instance = self._migrating_here(instance_id, as_target=False)
            if instance is None:
                return
            uuid = str(instance.pk)
            if self.driver.power_state(uuid) == DriverPower.PAUSED and self._left(uuid):
                tail = self._console_tail(uuid)  # a second delivery after the copy was complete
            else:
                try:
                    figures = self.driver.migrate_to(
                        uuid,
                        IncomingEndpoint.from_dict(endpoint),
                        timeout=settings.LIVE_MIGRATION_TIMEOUT,
                        shared=self._shared_disks(instance),
                    )
                except STEP_FAILURES as exc:
                    # Paused when the copy was complete before the error: then it runs here again.
                    left = self._left(uuid)
                    self._give_up(instance, "while copying it", exc, source_paused=left)
                    return
                log.info(
                    "instance %s copied to %s: memory in %s ms, %s ms stopped, %s bytes sent",
                    uuid, instance.live_migration_target.name, figures.get("total-time"),
                    figures.get("downtime"), (figures.get("ram") or {}).get("transferred"),
                )  # fmt: skip
                tail = self._console_tail(uuid)
            service.memory_copied(instance.pk, tail)

    def _left(self, uuid: str) -> bool:
        """True when this host's guest has been copied away already."""
        try:
            return self.driver.has_left(uuid)
        except VirtError:
            return False

    def _console_tail(self, uuid: str) -> str:
        """The last CONSOLE_TAIL bytes of the guest's console log, read a chunk at a time."""
        tail = b""
        for chunk in self.driver.console_log(uuid):
            tail = (tail + chunk)[-CONSOLE_TAIL:]
        return tail.decode(errors="replace")

    # -- 4. target: run it -----------------------------------------------------------------------

    def finish_live_migration(self, instance_id: str, console_tail: str) -> None:
        with self.op_lock(instance_id):
            instance = self._migrating_here(instance_id, as_target=True)
            if instance is None:
                return
            uuid = str(instance.pk)
            again = instance.live_migration_finishing  # a second delivery
            # Before the guest runs here: from now on nothing else gives the migration up.
            if not service.finishing(instance.pk, self.host_name):
                return  # given up meanwhile: the guest stays paused (the abort removes it)
            try:
                if not (again and self.driver.power_state(uuid) == DriverPower.RUNNING):
                    self.driver.finish_incoming(
                        uuid, running=instance.vm_state == VmState.ACTIVE, console_before=console_tail
                    )
            except STEP_FAILURES as exc:
                with contextlib.suppress(VirtError):
                    self.destroy_local(uuid)
                    self._unplug(instance)
                self._give_up(
                    instance, "while starting on its new host", exc, source_paused=True, by_target=True
                )
                return
            service.finished(instance.pk)

    # -- 5. source: clean up; or the failures' ends ------------------------------------------------

    def clean_up_live_migration_source(self, instance_id: str) -> None:
        """The instance runs elsewhere now: the guest that was copied, its port and disks go."""
        with self.op_lock(instance_id):
            back_here = Instance.objects.filter(
                pk=instance_id, host__name=self.host_name, deleted=False
            ).exists()
            if back_here:
                return  # it is this host's again (migrated back meanwhile)
            uuid = str(instance_id)
            instance = Instance.objects.select_related("network").filter(pk=instance_id).first()
            self.destroy_local(uuid)
            if instance is not None:
                self._unplug(instance)

    def abort_live_migration(self, instance_id: str) -> None:
        """Target: the migration was given up; the waiting guest and its disks go."""
        with self.op_lock(instance_id):
            instance = (
                Instance.objects.select_related("host", "live_migration_target")
                .filter(pk=instance_id, deleted=False)
                .first()
            )
            if instance is not None and self.host_name in (
                instance.host.name if instance.host else "",
                instance.live_migration_target.name if instance.live_migration_target else "",
            ):
                return  # it runs here after all, or a newer attempt to this host is under way
            self.destroy_local(str(instance_id))

    def resume_live_migration_source(self, instance_id: str, message: str) -> None:
        """Source: the target failed after the copy; the guest runs here again."""
        with self.op_lock(instance_id):
            instance = self._migrating_here(instance_id, as_target=False)
            if instance is None:
                return
            uuid = str(instance.pk)
            try:
                if instance.vm_state == VmState.ACTIVE:
                    self.driver.resume_source(uuid)
            except VirtError as exc:
                log.error("instance %s could not run again on %s: %s", uuid, self.host_name, exc)
                self._settle(instance, TaskState.MIGRATING)
                action_log.finish_action(instance.pk, service.ACTION, "Error", f"{message}; {exc}")
                return
            service.source_resumed(instance.pk, message)

    # -- an error no step caught (the task's failure hook) ---------------------------------------

    def live_migration_went_wrong(self, instance_id: str, step: str, exc: BaseException) -> bool:
        """A step failed outside its own handling (e.g. the database refused the hand-over): the
        migration is given up as any failed one, from whichever end this host is. False when the
        instance is not migrating with a target (then the caller records the error as usual)."""
        with self.op_lock(instance_id):
            row = (
                Instance.objects.select_related("host", "live_migration_target", "network")
                .filter(pk=instance_id, deleted=False, task_state=TaskState.MIGRATING)
                .first()
            )
            if row is None or row.live_migration_target is None:
                return False
            uuid = str(row.pk)
            message = f"Live migration of instance {uuid} failed ({step}) on host {self.host_name}: {exc}"
            log.error("%s", message)
            if row.live_migration_target.name == self.host_name:
                with contextlib.suppress(VirtError):
                    self.destroy_local(uuid)
                    if step == "finish_live_migration":
                        self._unplug(row)
                # After the copy (the finishing step) the source's guest is paused.
                paused = step == "finish_live_migration"
                return service.failed(row.pk, message, source_paused=paused, by_target=True)
            if row.host is not None and row.host.name == self.host_name:
                return service.failed(row.pk, message, source_paused=self._left(uuid))
            return False

    # -- the agent stopped in the middle -----------------------------------------------------------

    def heal_live_migration(self, instance: Instance) -> int:
        """At start-up, for an instance that was migrating away from this host: the migration is
        given up, and a guest that had been copied already runs here again."""
        uuid = str(instance.pk)
        message = f"The compute agent of {self.host_name} stopped during the live migration of {uuid}."
        left = self._left(uuid)
        if not service.failed(instance.pk, message, source_paused=left):
            return 0
        if left:
            self.resume_live_migration_source(uuid, message)
        return 1
