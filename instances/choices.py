"""Instance states as Nova names them, and how they map to the API's status."""

from __future__ import annotations

from django.db import models


class VmState(models.TextChoices):
    BUILDING = "building", "Building"
    ACTIVE = "active", "Active"
    STOPPED = "stopped", "Shutoff"
    PAUSED = "paused", "Paused"
    SUSPENDED = "suspended", "Suspended"
    ERROR = "error", "Error"
    DELETED = "deleted", "Deleted"
    # Resize, rebuild and rescue (Nova's vm_states.RESIZED and RESCUED)
    RESIZED = "resized", "Verify Resize"
    RESCUED = "rescued", "Rescued"
    SHELVED = "shelved", "Shelved"
    SHELVED_OFFLOADED = "shelved_offloaded", "Shelved Offloaded"


class TaskState(models.TextChoices):
    NONE = "", "None"
    SCHEDULING = "scheduling", "Scheduling"
    SPAWNING = "spawning", "Spawning"
    POWERING_OFF = "powering-off", "Powering Off"
    POWERING_ON = "powering-on", "Powering On"
    REBOOTING = "rebooting", "Rebooting"
    REBOOTING_HARD = "rebooting_hard", "Rebooting Hard"
    PAUSING = "pausing", "Pausing"
    UNPAUSING = "unpausing", "Resuming"
    SUSPENDING = "suspending", "Suspending"
    RESUMING = "resuming", "Resuming"
    IMAGE_SNAPSHOT = "image_snapshot", "Snapshotting"
    IMAGE_BACKUP = "image_backup", "Backing Up"
    DELETING = "deleting", "Deleting"
    # Resize, rebuild and rescue: Nova's task state names.
    RESIZE_PREP = "resize_prep", "Preparing Resize"
    RESIZE_MIGRATED = "resize_migrated", "Resize Migrated"
    RESIZE_REVERTING = "resize_reverting", "Reverting Resize"
    REBUILDING = "rebuilding", "Rebuilding"
    RESCUING = "rescuing", "Rescuing"
    UNRESCUING = "unrescuing", "Unrescuing"
    SHELVING = "shelving", "Shelving"
    SHELVING_OFFLOADING = "shelving_offloading", "Shelving Offloading"
    UNSHELVING = "unshelving", "Unshelving"
    MIGRATING = "migrating", "Migrating"  # a live migration


class PowerState(models.IntegerChoices):
    """Nova's numeric power states (``OS-EXT-STS:power_state``)."""

    NOSTATE = 0, "No State"
    RUNNING = 1, "Running"
    PAUSED = 3, "Paused"
    SHUTDOWN = 4, "Shut Down"
    CRASHED = 6, "Crashed"
    SUSPENDED = 7, "Suspended"


class HypervisorType(models.TextChoices):
    KVM = "kvm", "KVM"
    QEMU = "qemu", "QEMU"
    FAKE = "fake", "Fake"


# Task states an agent crash can leave behind that only a (re)build could finish.
BUILD_TASKS = (TaskState.SCHEDULING, TaskState.SPAWNING)
# Task states of work that rewrites disks or moves a guest: an agent that stopped in the middle
# cannot tell from the guest's power state how far it got, so the instance goes to ERROR (as Nova's
# _init_instance does) rather than being settled as if nothing happened.
DISK_TASKS = (
    TaskState.RESIZE_PREP,
    TaskState.RESIZE_MIGRATED,
    TaskState.RESIZE_REVERTING,
    TaskState.REBUILDING,
    TaskState.RESCUING,
    TaskState.UNRESCUING,
)
RESIZE_TASKS = (TaskState.RESIZE_PREP, TaskState.RESIZE_MIGRATED)


def api_status(vm_state: str, task_state: str) -> str:
    """Nova's ``status`` for a vm_state/task_state pair (nova/api/openstack/common.py)."""
    if task_state in RESIZE_TASKS and vm_state in (VmState.ACTIVE, VmState.STOPPED):
        return "RESIZE"
    if task_state == TaskState.REBUILDING and vm_state in (VmState.ACTIVE, VmState.STOPPED, VmState.ERROR):
        return "REBUILD"
    if vm_state == VmState.RESIZED:
        return "REVERT_RESIZE" if task_state == TaskState.RESIZE_REVERTING else "VERIFY_RESIZE"
    if task_state == TaskState.MIGRATING and vm_state in (VmState.ACTIVE, VmState.PAUSED):
        return "MIGRATING"
    if vm_state == VmState.ACTIVE:
        if task_state == TaskState.REBOOTING:
            return "REBOOT"
        if task_state == TaskState.REBOOTING_HARD:
            return "HARD_REBOOT"
        return "ACTIVE"
    return {
        VmState.BUILDING: "BUILD",
        VmState.STOPPED: "SHUTOFF",
        VmState.PAUSED: "PAUSED",
        VmState.SUSPENDED: "SUSPENDED",
        VmState.ERROR: "ERROR",
        VmState.DELETED: "DELETED",
        VmState.RESCUED: "RESCUE",
        VmState.SHELVED: "SHELVED",
        VmState.SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
    }.get(vm_state, "UNKNOWN")


# The reverse, for the ``status`` filter of GET /servers: one status → the vm_states it covers
# (and, for REBOOT/HARD_REBOOT, the task state too).
STATUS_FILTERS: dict[str, tuple[str, str | None]] = {
    "BUILD": (VmState.BUILDING, None),
    "ACTIVE": (VmState.ACTIVE, None),
    "MIGRATING": (VmState.ACTIVE, TaskState.MIGRATING),
    "REBOOT": (VmState.ACTIVE, TaskState.REBOOTING),
    "HARD_REBOOT": (VmState.ACTIVE, TaskState.REBOOTING_HARD),
    "SHUTOFF": (VmState.STOPPED, None),
    "PAUSED": (VmState.PAUSED, None),
    "SUSPENDED": (VmState.SUSPENDED, None),
    "ERROR": (VmState.ERROR, None),
    "DELETED": (VmState.DELETED, None),
    "VERIFY_RESIZE": (VmState.RESIZED, None),
    "RESCUE": (VmState.RESCUED, None),
    "SHELVED": (VmState.SHELVED, None),
    "SHELVED_OFFLOADED": (VmState.SHELVED_OFFLOADED, None),
}


class ServerGroupPolicy(models.TextChoices):
    """Nova's server group policies; the soft ones (2.15) weigh hosts instead of filtering them."""

    AFFINITY = "affinity", "Affinity"
    ANTI_AFFINITY = "anti-affinity", "Anti-affinity"
    SOFT_AFFINITY = "soft-affinity", "Soft affinity"
    SOFT_ANTI_AFFINITY = "soft-anti-affinity", "Soft anti-affinity"


class VolumeStatus(models.TextChoices):
    """Cinder's volume statuses (the subset Stratus uses)."""

    CREATING = "creating", "Creating"
    AVAILABLE = "available", "Available"
    ATTACHING = "attaching", "Attaching"
    IN_USE = "in-use", "In-use"
    DETACHING = "detaching", "Detaching"
    EXTENDING = "extending", "Extending"
    UPLOADING = "uploading", "Uploading"
    DELETING = "deleting", "Deleting"
    ERROR = "error", "Error"
    ERROR_DELETING = "error_deleting", "Error Deleting"


# Statuses a worker or agent is busy in: the dashboard polls them, the sweeper watches them.
VOLUME_TRANSITIONAL = (
    VolumeStatus.CREATING,
    VolumeStatus.ATTACHING,
    VolumeStatus.DETACHING,
    VolumeStatus.EXTENDING,
    VolumeStatus.UPLOADING,
    VolumeStatus.DELETING,
)


class VolumeSource(models.TextChoices):
    EMPTY = "empty", "Empty"
    IMAGE = "image", "Image"
    VOLUME = "volume", "Volume"


class MigrationType(models.TextChoices):
    """What moved the instance (Nova's migration_type)."""

    MIGRATION = "migration", "Cold Migration"
    RESIZE = "resize", "Resize"
    LIVE_MIGRATION = "live-migration", "Live Migration"
    EVACUATION = "evacuation", "Evacuation"


class MigrationStatus(models.TextChoices):
    """Nova's migration statuses, as os-migrations shows them."""

    PRE_MIGRATING = "pre-migrating", "Pre-migrating"
    MIGRATING = "migrating", "Migrating"
    POST_MIGRATING = "post-migrating", "Post-migrating"
    FINISHED = "finished", "Finished"
    CONFIRMING = "confirming", "Confirming"
    CONFIRMED = "confirmed", "Confirmed"
    REVERTING = "reverting", "Reverting"
    REVERTED = "reverted", "Reverted"
    ACCEPTED = "accepted", "Accepted"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    DONE = "done", "Done"
    ERROR = "error", "Error"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# A migration in one of these is still moving its instance (or waiting for confirm/revert).
MIGRATION_IN_PROGRESS = (
    MigrationStatus.PRE_MIGRATING,
    MigrationStatus.MIGRATING,
    MigrationStatus.POST_MIGRATING,
    MigrationStatus.FINISHED,
    MigrationStatus.CONFIRMING,
    MigrationStatus.REVERTING,
    MigrationStatus.ACCEPTED,
    MigrationStatus.RUNNING,
)
