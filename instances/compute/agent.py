"""The compute agent as a process: registration, heartbeats, healing after a crash, power-state
sync and cache pruning. The Celery tasks of this process find their manager through
:func:`current` (the agent runs one worker, with threads, consuming only ``compute.<host>``)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone

from instances.choices import BUILD_TASKS, DISK_TASKS, PowerState, TaskState, VmState
from instances.compute.manager import POWER_TO_DB, ComputeManager
from instances.models import ComputeHost, Instance
from instances.services import claims, consoles, live_migration, servers, shelve
from instances.virt import VirtError

log = logging.getLogger(__name__)

_manager: ComputeManager | None = None


class AgentNotRunning(RuntimeError):
    """A compute task reached a process that is not a compute agent."""


def configure(manager: ComputeManager | None) -> None:
    global _manager
    _manager = manager


def current() -> ComputeManager:
    if _manager is None:
        raise AgentNotRunning("compute tasks run only in `manage.py compute_agent`")
    return _manager


# -- registration and heartbeat ----------------------------------------------------------------


def register(
    manager: ComputeManager, availability_zone: str, overrides: dict[str, int] | None = None
) -> ComputeHost:
    """Create or update the host row with what the driver reports (capped by ``overrides``),
    and recount its claims from the instances it really holds."""
    caps = manager.driver.capabilities()
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    memory = max(0, caps.memory_mb - settings.COMPUTE_RESERVED_HOST_MEMORY_MB)
    values = {
        "availability_zone": availability_zone,
        "hypervisor_type": caps.hypervisor_type,
        "arch": caps.arch,
        "uefi": caps.uefi,
        "vcpus": min(caps.vcpus, overrides.get("vcpus", caps.vcpus)),
        "memory_mb": min(memory, overrides.get("memory_mb", memory)),
        "local_gb": min(caps.disk_gb, overrides.get("disk_gb", caps.disk_gb)),
        "cpu_allocation_ratio": settings.COMPUTE_CPU_ALLOCATION_RATIO,
        "ram_allocation_ratio": settings.COMPUTE_RAM_ALLOCATION_RATIO,
        "disk_allocation_ratio": settings.COMPUTE_DISK_ALLOCATION_RATIO,
        "capabilities": {
            **caps.to_dict(),
            "networking": manager.network_mode.to_dict(),
            "console": consoles.host_console(manager.driver.vnc_socket_dir()),
            "transfer": manager.transfer_url,
        },
        "last_heartbeat": timezone.now(),
    }
    with transaction.atomic():
        host, _ = ComputeHost.objects.update_or_create(name=manager.host_name, defaults=values)
        recount_claims(host)
    return host


def recount_claims(host: ComputeHost) -> None:
    """Set the usage counters to what the host's live instances claim (repairs any drift)."""
    list(ComputeHost.objects.select_for_update().filter(pk=host.pk).values_list("pk"))
    # An instance being resized holds claims on its source and target hosts, whichever it is on.
    mine = Instance.objects.alive().filter(
        Q(host=host) | Q(resize_source=host) | Q(resize_target=host) | Q(live_migration_target=host)
    )
    vcpus, memory, disk = claims.claims_by_host(mine).get(host.pk, (0, 0, 0))
    ComputeHost.objects.filter(pk=host.pk).update(vcpus_used=vcpus, memory_mb_used=memory, local_gb_used=disk)


class Heartbeat(threading.Thread):
    def __init__(self, host_name: str, interval: float):
        super().__init__(name="compute-heartbeat", daemon=True)
        self.host_name, self.interval = host_name, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            close_old_connections()
            ComputeHost.objects.filter(name=self.host_name).update(last_heartbeat=timezone.now())


# -- healing at start-up -------------------------------------------------------------------------


def heal(manager: ComputeManager) -> dict[str, int]:
    """Make the database and the host agree after the agent was down (Nova's _init_instance):
    interrupted builds and unshelves → ERROR; interrupted deletes and offloads finished; other
    interrupted actions settled on the guest's real power state; guests of deleted or unknown
    instances destroyed."""
    counts = {"errored": 0, "deleted": 0, "settled": 0, "orphans": 0}
    mine = Instance.objects.alive().filter(host__name=manager.host_name)
    for instance in mine:
        if instance.vm_state == VmState.BUILDING or instance.task_state in BUILD_TASKS:
            message = "The compute agent stopped while the instance was being built."
            if servers.set_error(instance.pk, message, expected_task=instance.task_state):
                servers.finish_action(instance.pk, "create", "Error", message)
                counts["errored"] += 1
        elif instance.task_state in DISK_TASKS:
            message = f"The compute agent stopped during task {instance.task_state}; check the instance."
            if servers.set_error(instance.pk, message, expected_task=instance.task_state):
                counts["errored"] += 1
        elif instance.task_state == TaskState.DELETING:
            manager.delete(str(instance.pk))
            counts["deleted"] += 1
        elif instance.task_state == TaskState.SHELVING_OFFLOADING:
            manager.shelve_offload(str(instance.pk))  # idempotent: finish what was begun
            counts["settled"] += 1
        elif instance.task_state == TaskState.MIGRATING:
            counts["settled"] += manager.heal_live_migration(instance)
        elif instance.task_state == TaskState.UNSHELVING:
            message = "The compute agent stopped while the instance was being unshelved."
            if servers.set_error(instance.pk, message, expected_task=instance.task_state):
                servers.finish_action(instance.pk, "unshelve", "Error", message)
                counts["errored"] += 1
        elif instance.task_state:
            vm_state, power = POWER_TO_DB[manager.driver.power_state(str(instance.pk))]
            if servers.finish_task(instance.pk, instance.task_state, vm_state=vm_state, power_state=power):
                counts["settled"] += 1
    counts["orphans"] = destroy_orphans(manager)
    return counts


def destroy_orphans(manager: ComputeManager) -> int:
    """Guests and disk dirs on this host that belong to no live instance of this host."""
    # A guest arriving by live migration is this host's before its instance is.
    here = Q(host__name=manager.host_name) | Q(live_migration_target__name=manager.host_name)
    known = {str(pk) for pk in Instance.objects.alive().filter(here).values_list("pk", flat=True)}
    removed = 0
    on_disk = {p.name for p in manager.disks_dir.iterdir() if p.is_dir()}
    for uuid in sorted((set(manager.driver.list_defined()) | on_disk) - known):
        log.warning("destroying guest %s: its instance is deleted or unknown", uuid)
        try:
            manager.destroy_local(uuid)
        except VirtError as exc:
            log.error("could not destroy orphaned guest %s: %s", uuid, exc)
            continue
        removed += 1
    removed += manager.prune_resize_dirs()
    for lock in manager.locks_dir.glob("*.lock"):
        if lock.stem not in known:
            lock.unlink(missing_ok=True)
    return removed


# -- periodic ------------------------------------------------------------------------------------


def sync_power_states(manager: ComputeManager) -> int:
    """A guest that died is SHUTOFF; the power state shown is the guest's. Only instances with no
    task in progress are touched, and the UPDATE re-checks that."""
    changed = 0
    steady = (VmState.ACTIVE, VmState.PAUSED, VmState.SUSPENDED, VmState.STOPPED)
    rows = (
        Instance.objects.alive()
        .filter(host__name=manager.host_name, task_state=TaskState.NONE, vm_state__in=steady)
        .values("pk", "vm_state", "power_state")
    )
    for row in rows:
        actual = manager.driver.power_state(str(row["pk"]))
        vm_state, power = POWER_TO_DB[actual]
        if row["vm_state"] == VmState.STOPPED and power != PowerState.RUNNING:
            vm_state = VmState.STOPPED
        if (vm_state, power) == (row["vm_state"], row["power_state"]):
            continue
        changed += Instance.objects.filter(
            pk=row["pk"], deleted=False, task_state=TaskState.NONE, vm_state=row["vm_state"]
        ).update(vm_state=vm_state, power_state=power, updated_at=timezone.now())
    destroy_orphans(manager)
    return changed


def stop_guests(manager: ComputeManager) -> int:
    """Power off every guest of the host at once, each given the clean shutdown time, and record
    them SHUTOFF (`manage.py compute_agent --stop-guests`, which `make run` runs when it stops)."""
    running = manager.driver.list_running()
    if not running:
        return 0
    with ThreadPoolExecutor(max_workers=len(running)) as pool:
        done = {
            uuid: pool.submit(manager.driver.power_off, uuid, settings.COMPUTE_SHUTDOWN_TIMEOUT)
            for uuid in running
        }
    for uuid, future in done.items():
        if future.exception() is not None:
            log.warning("could not power off guest %s: %s", uuid, future.exception())
    sync_power_states(manager)
    return len(running)


_last_prune: dict[str, float] = {}


def prune_cache(manager: ComputeManager, force: bool = False) -> list[str]:
    now = time.monotonic()
    if not force and now - _last_prune.get(manager.host_name, -1e18) < settings.COMPUTE_CACHE_PRUNE_INTERVAL:
        return []
    _last_prune[manager.host_name] = now
    # A resize away from this host keeps its old disk here until confirm: its base stays too.
    here = Q(host__name=manager.host_name) | Q(resize_source__name=manager.host_name)
    in_use = set(Instance.objects.alive().filter(here).values_list("image_id", flat=True))
    return manager.cache.prune(timedelta(seconds=settings.COMPUTE_IMAGE_CACHE_MAX_AGE), in_use)


def sweep_stuck() -> dict[str, int]:
    """Nothing stays in a transitional state forever (runs centrally, not on a host): builds past
    the build timeout and any other task past the task timeout go to ERROR with a fault; a
    delete or a shelve-offload stuck on a host that is down is finished in the database."""
    now = timezone.now()
    counts = {"build_timeout": 0, "stuck": 0, "deleted": 0, "offloaded": 0}
    if settings.COMPUTE_BUILD_TIMEOUT > 0:
        cutoff = now - timedelta(seconds=settings.COMPUTE_BUILD_TIMEOUT)
        late = Instance.objects.alive().filter(vm_state=VmState.BUILDING, created_at__lt=cutoff)
        for pk, task in late.values_list("pk", "task_state"):
            message = f"Build of instance {pk} timed out after {settings.COMPUTE_BUILD_TIMEOUT} seconds."
            if servers.set_error(pk, message, expected_task=task):
                servers.finish_action(pk, "create", "Error", message)
                counts["build_timeout"] += 1
    cutoff = now - timedelta(seconds=settings.COMPUTE_TASK_TIMEOUT)
    stuck = (
        Instance.objects.alive()
        .exclude(task_state=TaskState.NONE)
        .exclude(vm_state=VmState.BUILDING)
        .filter(task_started_at__lt=cutoff)
        .select_related("host")
    )
    for instance in stuck:
        if instance.task_state == TaskState.DELETING and (instance.host is None or not instance.host.is_up):
            counts["deleted"] += servers.finish_delete(instance.pk)
            continue
        if instance.task_state == TaskState.SHELVING_OFFLOADING and (
            instance.host is None or not instance.host.is_up
        ):
            # Nothing of it will run there again: let go of the host in the database (its agent
            # destroys the leftover guest as an orphan when it comes back).
            counts["offloaded"] += shelve.finish_offload(instance.pk)
            continue
        message = (
            f"Instance {instance.pk} was stuck in task state {instance.task_state} "
            f"for more than {settings.COMPUTE_TASK_TIMEOUT} seconds."
        )
        if instance.task_state == TaskState.MIGRATING:
            # Given up like a failed one: the target's claim goes back, the instance stays where it is
            # (given up already, waiting for its source: that is asked again, or let go if down).
            counts["stuck"] += live_migration.settle_stuck(instance.pk, message)
            continue
        counts["stuck"] += servers.set_error(instance.pk, message, expected_task=instance.task_state)
    return counts


def state_dir_for(host_name: str, given: str | None) -> Path:
    # Absolute: the disks under it are handed to qemu-img, which takes absolute file names only.
    return Path(given).resolve() if given else Path(settings.COMPUTE_STATE_DIR).resolve() / host_name
