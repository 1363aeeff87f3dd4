"""What a compute agent does to the instances on its host: build, power actions, snapshot, delete
(resize, rebuild and rescue are in disk_ops.DiskOpsMixin).

Each method takes an instance id, re-reads the row, and acts only while the instance is on this
host and in the task state the API put it in; it ends with a conditional UPDATE. So a task that
is delivered twice, or arrives after a delete, finds nothing to do. Work on one instance is
serialised by a per-instance lock file, so a delete waits for a build in progress and then
tears down everything the build made.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from dashboard.exceptions import StratusError
from images import services as image_services
from images.choices import DiskFormat, ImageStatus
from images.models import Image
from images.pipeline.errors import PipelineError
from images.pipeline.upload import upload
from images.stores import StoreError, get_store
from images.stores.filesystem import FilesystemStore
from instances.choices import PowerState, TaskState, VmState
from instances.compute import image_api
from instances.compute.disk_ops import SWAP_TARGET, DiskOpsMixin
from instances.compute.errors import BuildAbort
from instances.compute.live_migration import LiveMigrationMixin
from instances.compute.networking import InstanceNetworks, Mode
from instances.compute.shelve import ShelveMixin
from instances.compute.uptime import uptime_line
from instances.compute.volume_agent import VolumeAgentMixin
from instances.models import Instance
from instances.services import action_log, guest_metadata, hardware, kernels, servers
from instances.virt import configdrive, disks
from instances.virt.base import DiskSpec, GuestNotFound, GuestSpec, NetworkSpec, VirtDriver, VirtError
from instances.virt.base import PowerState as DriverPower
from instances.virt.hostnet import HostNetwork, tap_name
from instances.virt.imagecache import ImageCache, base_format

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024

# What a guest's actual power state means for the instance (Nova's power-state sync).
POWER_TO_DB = {
    DriverPower.RUNNING: (VmState.ACTIVE, PowerState.RUNNING),
    DriverPower.PAUSED: (VmState.PAUSED, PowerState.PAUSED),
    DriverPower.SUSPENDED: (VmState.SUSPENDED, PowerState.SUSPENDED),
    DriverPower.SHUTDOWN: (VmState.STOPPED, PowerState.SHUTDOWN),
    DriverPower.CRASHED: (VmState.STOPPED, PowerState.CRASHED),
    DriverPower.NOSTATE: (VmState.STOPPED, PowerState.NOSTATE),
}


class ComputeManager(LiveMigrationMixin, ShelveMixin, VolumeAgentMixin, DiskOpsMixin):
    def __init__(
        self,
        host_name: str,
        driver: VirtDriver,
        state_dir: str | Path,
        network: HostNetwork | None = None,
        network_mode: Mode | None = None,
    ):
        """``network``: the host's bridges (instances get a tap on their network's bridge); None:
        QEMU user networking. ``network_mode`` says which and why (see networking.choose)."""
        self.host_name = host_name
        self.driver = driver
        self.state_dir = Path(state_dir)
        self.networks = InstanceNetworks(host_name, network) if network is not None else None
        self.network_mode = network_mode or (
            Mode("bridge", "host bridges") if network is not None else Mode("user", "QEMU user networking")
        )
        self.cache = ImageCache(self.state_dir / "_base")
        # Where other hosts fetch the disks of instances moving away (set when the endpoint runs).
        self.transfer_url = ""
        self.disks_dir = self.state_dir / "disks"
        self.locks_dir = self.state_dir / "locks"
        self.disks_dir.mkdir(parents=True, exist_ok=True)
        self.locks_dir.mkdir(parents=True, exist_ok=True)

    # -- helpers -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def op_lock(self, instance_id: str) -> Iterator[None]:
        with open(self.locks_dir / f"{instance_id}.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _mine(self, instance_id: str, task_state: str) -> Instance | None:
        """The instance, if it is on this host, alive and still in ``task_state``; taking its work
        up starts the event of its action (os-instance-actions)."""
        instance = (
            Instance.objects.select_related("network", "host")
            .filter(pk=instance_id, host__name=self.host_name, deleted=False, task_state=task_state)
            .first()
        )
        if instance is not None:
            action_log.start_event(instance.pk, task_state, self.host_name)
        return instance

    def disk_paths(self, instance_id: str) -> dict[str, Path]:
        directory = self.disks_dir / str(instance_id)
        return {
            "vda": directory / "disk",
            "vdb": directory / "disk.eph0",
            SWAP_TARGET: directory / "disk.swap",
        }

    def wants_config_drive(self, instance: Instance) -> bool:
        """Asked for at launch (or forced by the operator), and always on a host without bridges:
        there no metadata service can be reached, so the drive carries the documents."""
        return instance.config_drive or self.networks is None

    def guest_spec(self, instance: Instance) -> GuestSpec:
        """The guest as the instance's flavor and image ask for it. An image property the launch
        would refuse today (the instance is older than the check) is a VirtError, not a default."""
        paths = self.disk_paths(str(instance.pk))
        volumes = self.volume_disks(instance)
        specs = (
            [] if any(d.target == "vda" for d in volumes) else [DiskSpec(str(paths["vda"]), "qcow2", "vda")]
        )
        specs += volumes
        if instance.ephemeral_gb:
            specs.append(DiskSpec(str(paths["vdb"]), "qcow2", "vdb"))
        if instance.swap_mb:
            specs.append(DiskSpec(str(paths[SWAP_TARGET]), "qcow2", SWAP_TARGET))
        net = None
        if instance.network is not None and instance.address:
            net = NetworkSpec(
                cidr=instance.network.cidr,
                address=instance.address,
                gateway=instance.network.gateway,
                mac=instance.mac_address,
                tap=tap_name(str(instance.pk)) if self.networks is not None else "",
            )
        props = instance.image_properties
        boot = kernels.boot_file_ids(props)
        kernel = str(self.cache.base_path(boot["kernel_id"])) if "kernel_id" in boot else ""
        try:
            devices = hardware.guest_hardware(props, flavor_extra_specs=instance.flavor_extra_specs)
        except hardware.UnsupportedHardware as exc:
            raise VirtError(exc.message) from exc
        return GuestSpec(
            uuid=str(instance.pk),
            name=instance.name,
            vcpus=instance.vcpus,
            memory_mb=instance.memory_mb,
            disks=specs,
            network=net,
            config_drive=str(self.config_drive_path(instance)) if self.wants_config_drive(instance) else "",
            arch=props.get("hw_architecture") or props.get("architecture") or instance.host.arch,
            # Direct kernel boot: _create_disks put the kernel and ramdisk into the image cache.
            kernel=kernel,
            ramdisk=str(self.cache.base_path(boot["ramdisk_id"])) if "ramdisk_id" in boot else "",
            cmdline=(props.get("os_command_line") or kernels.DEFAULT_CMDLINE) if kernel else "",
            # Boot from an ISO: the cached image is the CD-ROM; vda is the blank disk it installs onto.
            cdrom=str(self.cache.base_path(instance.image_id)) if instance.boots_from_iso else "",
            **devices,
        )

    def plugged_spec(self, instance: Instance) -> GuestSpec:
        """The guest spec, with the instance's tap and DHCP entry in place on its network's bridge
        and its config drive written: what every path that starts a QEMU process needs first."""
        self.plug(instance)
        if self.wants_config_drive(instance):
            files = {
                f"openstack/latest/{name}": body
                for name, body in guest_metadata.openstack_files(instance).items()
            }
            configdrive.write(self.config_drive_path(instance), files)
        return self.guest_spec(instance)

    def config_drive_path(self, instance: Instance) -> Path:
        return self.disks_dir / str(instance.pk) / "disk.config"

    def plug(self, instance: Instance) -> None:
        if self.networks is not None and instance.network is not None and instance.address:
            self.networks.plug(instance)
            if instance.port_forwards.exists():  # dropped while it was not running: back now
                self.networks.sync_forwards()

    def sync_networks(self) -> dict:
        """At agent start and stop: networking for the guests that run, nothing for the others."""
        if self.networks is None:
            return {}
        running = set(self.driver.list_running())
        return {"ports": self.networks.sync(running), "forwards": self.networks.sync_forwards(running)}

    # -- build -------------------------------------------------------------------------------

    def build(self, instance_id: str) -> None:
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.SPAWNING)
            if instance is None or instance.vm_state != VmState.BUILDING:
                return
            try:
                self._create_disks(instance)
                self.driver.spawn(self.plugged_spec(instance))
            except (BuildAbort, VirtError, OSError) as exc:
                self._abort_build(instance, exc)
                return
            self.finish_boot_volume(instance)
            # Unmatched: a delete came in meanwhile; its task (waiting on our lock) removes the guest.
            if servers.finish_task(
                instance.pk,
                TaskState.SPAWNING,
                vm_state=VmState.ACTIVE,
                power_state=PowerState.RUNNING,
                launched_at=timezone.now(),
            ):
                servers.finish_action(instance.pk, "create")

    def _abort_build(self, instance: Instance, exc: BaseException) -> None:
        log.warning("build of instance %s failed: %s", instance.pk, exc)
        with contextlib.suppress(VirtError):
            self.driver.destroy(str(instance.pk))
        message = f"Build of instance {instance.pk} aborted: {exc}"
        servers.set_error(instance.pk, message, expected_task=TaskState.SPAWNING)
        servers.finish_action(instance.pk, "create", "Error", message)

    def _create_disks(self, instance: Instance, root_copy_of: str = "") -> None:
        """``root_copy_of``: an image whose standalone copy is the root disk (unshelve), instead of
        an overlay on the instance's image."""
        paths = self.disk_paths(str(instance.pk))
        # A previous attempt may have died half way; the guest never ran on these files.
        disks.remove(*paths.values())
        if root_copy_of:
            # Unshelve: a standalone copy of the shelved snapshot (an ISO boot keeps its CD-ROM).
            if instance.boots_from_iso:
                self._cached_image(str(instance.image_id))
            root = self._cached_image(root_copy_of)
            paths["vda"].parent.mkdir(parents=True, exist_ok=True)
            disks.convert(*root, paths["vda"], "qcow2")
        elif instance.boots_from_iso:
            # As Nova boots an ISO: the image is a CD-ROM, the root disk a blank one of the flavor's size.
            self._cached_image(str(instance.image_id))
            disks.create_blank(paths["vda"], instance.root_gb)
        elif not self.prepare_boot_volume(instance):
            base, fmt = self._cached_image(str(instance.image_id))
            disks.create_overlay(base, fmt, paths["vda"], instance.root_gb)
        for image_id in kernels.boot_file_ids(instance.image_properties).values():
            self._cached_image(image_id)
        if instance.ephemeral_gb:
            disks.create_blank(paths["vdb"], instance.ephemeral_gb)
        if instance.swap_mb:
            disks.create_blank(paths[SWAP_TARGET], size_mb=instance.swap_mb)

    def _cached_image(self, image_id: str) -> tuple[Path, str]:
        """The image (a root disk's base, or a kernel or ramdisk) in this host's cache and the
        format QEMU reads it in: copied from a filesystem store this host can read, else streamed
        from the store; verified against os_hash_value either way."""

        image = Image.objects.filter(pk=image_id).prefetch_related("locations").first()
        if image is None or image.status != ImageStatus.ACTIVE:
            raise BuildAbort(f"Image {image_id} is not active.")
        if image.is_corrupt:  # marked after the launch was accepted
            raise BuildAbort(image.corrupt_reason)
        location = next(iter(image.locations.all()), None)
        if location is None:
            raise BuildAbort(f"Image {image_id} has no data.")
        # An ami is a raw disk; a kernel (aki) or ramdisk (ari) stays a file the cache only hashes.
        fmt = "raw" if image.disk_format == DiskFormat.AMI else image.disk_format
        key = location.data_key
        try:
            source: Path | Callable = image_api.fetcher(str(image.pk), image.checksum or "")
            if settings.COMPUTE_IMAGE_SOURCE != "api":
                store = get_store(location.store)
                if isinstance(store, FilesystemStore) and store.path(key).is_file():
                    source = store.path(key)
                elif not isinstance(store, FilesystemStore) or settings.COMPUTE_IMAGE_SOURCE == "store":

                    def source(fh, store=store, key=key) -> None:
                        for chunk in store.get(key):
                            fh.write(chunk)

                elif not settings.CONTROLLER_URL:
                    raise BuildAbort(
                        f"Image {image.pk} is not in the image store visible on host {self.host_name}, "
                        "and no STRATUS_CONTROLLER_URL says where its image API is."
                    )
            base = self.cache.ensure(str(image.pk), image.os_hash_value, fmt, source)
        except StoreError as exc:
            raise BuildAbort(f"Image {image.pk} could not be read: {exc}") from exc
        return base, base_format(fmt)

    # -- power actions -----------------------------------------------------------------------

    def _act(self, instance_id: str, task: str, action: str, run: Callable[[Instance], None], **done) -> None:
        """Run a driver action for an instance in ``task``; on success set ``done``. A failure
        leaves the vm_state as the guest really is and logs the error on the action."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, task)
            if instance is None:
                return
            try:
                run(instance)
            except VirtError as exc:
                log.warning("%s of instance %s failed: %s", action, instance_id, exc)
                self._settle(instance, task)
                servers.finish_action(instance.pk, action, "Error", str(exc))
                return
            if servers.finish_task(instance.pk, task, **done):
                servers.finish_action(instance.pk, action)

    def _settle(self, instance: Instance, task: str) -> None:
        vm_state, power = POWER_TO_DB[self.driver.power_state(str(instance.pk))]
        if instance.vm_state == VmState.ERROR:
            vm_state = VmState.ERROR
        servers.finish_task(instance.pk, task, vm_state=vm_state, power_state=power)

    def stop(self, instance_id: str) -> None:

        def run(instance: Instance) -> None:
            with contextlib.suppress(GuestNotFound):  # never spawned: it is off already
                self.driver.power_off(str(instance.pk), timeout=settings.COMPUTE_SHUTDOWN_TIMEOUT)

        self._act(
            instance_id,
            TaskState.POWERING_OFF,
            "stop",
            run,
            vm_state=VmState.STOPPED,
            power_state=PowerState.SHUTDOWN,
        )

    def start(self, instance_id: str) -> None:
        self._act(
            instance_id,
            TaskState.POWERING_ON,
            "start",
            self._power_on,
            vm_state=VmState.ACTIVE,
            power_state=PowerState.RUNNING,
        )

    def _power_on(self, instance: Instance) -> None:
        spec = self.plugged_spec(instance)
        if str(instance.pk) in self.driver.list_defined():
            self.driver.power_on(spec)
        else:  # resized or rebuilt while stopped: the guest is defined at its first start
            self.driver.spawn(spec)

    def reboot(self, instance_id: str) -> None:

        instance = Instance.objects.filter(pk=instance_id).values("task_state").first()
        task = (instance or {}).get("task_state")
        if task not in (TaskState.REBOOTING, TaskState.REBOOTING_HARD):
            return

        def run(instance: Instance) -> None:
            uuid = str(instance.pk)
            if task == TaskState.REBOOTING_HARD and uuid not in self.driver.list_defined():
                self.driver.spawn(self.plugged_spec(instance))  # Nova recreates the guest
                return
            hard = task == TaskState.REBOOTING_HARD
            self.driver.reboot(uuid, hard=hard, timeout=settings.COMPUTE_SHUTDOWN_TIMEOUT)

        self._act(instance_id, task, "reboot", run, vm_state=VmState.ACTIVE, power_state=PowerState.RUNNING)

    def pause(self, instance_id: str) -> None:
        self._act(
            instance_id,
            TaskState.PAUSING,
            "pause",
            lambda i: self.driver.pause(str(i.pk)),
            vm_state=VmState.PAUSED,
            power_state=PowerState.PAUSED,
        )

    def unpause(self, instance_id: str) -> None:
        self._act(
            instance_id,
            TaskState.UNPAUSING,
            "unpause",
            lambda i: self.driver.unpause(str(i.pk)),
            vm_state=VmState.ACTIVE,
            power_state=PowerState.RUNNING,
        )

    def suspend(self, instance_id: str) -> None:
        self._act(
            instance_id,
            TaskState.SUSPENDING,
            "suspend",
            lambda i: self.driver.suspend(str(i.pk)),
            vm_state=VmState.SUSPENDED,
            power_state=PowerState.SUSPENDED,
        )

    def resume(self, instance_id: str) -> None:
        self._act(
            instance_id,
            TaskState.RESUMING,
            "resume",
            self._resume,
            vm_state=VmState.ACTIVE,
            power_state=PowerState.RUNNING,
        )

    # -- snapshot ----------------------------------------------------------------------------

    def snapshot(self, instance_id: str, image_id: str) -> None:
        """Copy the root disk (driver.snapshot: consistent, the guest keeps running) into a temp
        file and feed it through the image service's upload pipeline into the new image."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.IMAGE_SNAPSHOT)
            if instance is None:
                return
            error = self._upload_snapshot(instance, image_id)
            if servers.finish_task(instance.pk, TaskState.IMAGE_SNAPSHOT):
                servers.finish_action(instance.pk, "createImage", "Error" if error else "Success", error)

    def backup(self, instance_id: str, image_id: str, backup_type: str, rotation: int) -> None:
        """A snapshot as a backup, then the rotation: only the newest ``rotation`` backups of that
        type of the instance are kept."""
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.IMAGE_BACKUP)
            if instance is None:
                return
            error = self._upload_snapshot(instance, image_id)
            if not error:
                servers.rotate_backups(instance.pk, instance.project_id, backup_type, rotation)
            if servers.finish_task(instance.pk, TaskState.IMAGE_BACKUP):
                servers.finish_action(instance.pk, "createBackup", "Error" if error else "Success", error)

    def _upload_snapshot(self, instance: Instance, image_id: str) -> str:

        image = Image.objects.filter(pk=image_id, status=ImageStatus.QUEUED).first()
        if image is None:
            return ""  # deleted by its owner meanwhile, or a previous delivery uploaded it
        target = self.state_dir / "snapshots" / f"{image_id}.qcow2"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.driver.snapshot(str(instance.pk), target)
            with open(target, "rb") as fh:
                upload(image, iter(lambda: fh.read(CHUNK), b""), target.stat().st_size)
        except (VirtError, OSError, StratusError, PipelineError, StoreError) as exc:
            log.warning("snapshot of instance %s into image %s failed: %s", instance.pk, image_id, exc)
            # As Nova: a snapshot that failed leaves no half image behind.
            failed = Image.objects.filter(pk=image_id).first()
            if failed is not None and failed.status != ImageStatus.DELETED:
                with contextlib.suppress(StratusError):
                    image_services.delete_image(failed)
            return f"Snapshot failed: {exc}"
        finally:
            target.unlink(missing_ok=True)
        return ""

    # -- delete, console ---------------------------------------------------------------------

    def delete(self, instance_id: str) -> None:
        with self.op_lock(instance_id):
            instance = self._mine(instance_id, TaskState.DELETING)
            if instance is None:
                return
            try:
                self.destroy_local(str(instance.pk))
                if self.networks is not None and instance.network is not None:
                    self.networks.unplug(instance)
            except VirtError as exc:
                message = f"Could not delete instance {instance.pk}: {exc}"
                servers.set_error(instance.pk, message, expected_task=TaskState.DELETING)
                servers.finish_action(instance.pk, "delete", "Error", message)
                return
            servers.finish_delete(instance.pk)
            self.sync_forwards()  # its forwards went with it; no need to wait for the queued resync
            servers.finish_action(instance.pk, "delete")

    def sync_forwards(self) -> None:
        """The host's port forwards as the database has them (a no-op without bridges)."""
        if self.networks is not None:
            self.networks.sync_forwards()

    def _resume(self, instance: Instance) -> None:
        self.plug(instance)  # after a host restart the tap is gone; the saved guest names it
        self.driver.resume(str(instance.pk))

    def destroy_local(self, uuid: str) -> None:
        """Guest, overlay, ephemeral, swap and tap gone; the cached base image stays."""
        self.driver.destroy(uuid)
        if self.networks is not None:
            self.networks.host.remove_port(uuid)
        # The lock file stays while we hold it (unlinking it would let a second holder in);
        # the agent's sync removes lock files of instances that are gone.
        shutil.rmtree(self.disks_dir / uuid, ignore_errors=True)

    def console_log(self, instance_id: str) -> Iterator[bytes]:
        try:
            return self.driver.console_log(str(instance_id))
        except GuestNotFound:
            return iter(())

    def host_uptime(self) -> str:
        return uptime_line()

    def console_output(self, instance_id: str, length: int | None) -> str:
        try:
            return self.driver.console_output(str(instance_id), length)
        except GuestNotFound:
            return ""
