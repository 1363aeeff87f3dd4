"""What a row of the Instances panel shows and offers: the actions the state and the policy
allow (the server checks both again), image names for a page of rows, and the polling delay of
rows in a transitional state."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from dashboard.policy import can
from images.models import Image
from instances import policies
from instances.choices import TaskState, VmState
from instances.models import Instance
from instances.services import locks
from instances.services.live_migration import MIGRATABLE
from instances.services.rebuild import REBUILDABLE, RESCUABLE
from instances.services.resize import RESIZABLE
from instances.services.servers import ACTIONS

FIRST_POLL = 2  # seconds
LAST_POLL = 30


@dataclass(frozen=True)
class RowAction:
    name: str  # the service's action name (services.servers.ACTIONS) or a panel page
    label: str
    rule: str
    icon: str
    danger: bool = False

    @property
    def dialog(self) -> bool:
        """A page with a form (resize, rebuild, rescue) rather than a POST from the menu."""
        return self.name in DIALOG_OPS


# Power actions, in the order the row menu lists them; each one is a POST to instance-action.
POWER_ACTIONS = (
    RowAction("start", "Start", policies.SERVERS_START, "play-fill"),
    RowAction("stop", "Shut Off", policies.SERVERS_STOP, "stop-fill"),
    RowAction("reboot", "Soft Reboot", policies.SERVERS_REBOOT, "arrow-clockwise"),
    RowAction("reboot_hard", "Hard Reboot", policies.SERVERS_REBOOT, "lightning-charge", danger=True),
    RowAction("pause", "Pause", policies.PAUSE, "pause-fill"),
    RowAction("unpause", "Unpause", policies.UNPAUSE, "play"),
    RowAction("suspend", "Suspend", policies.SUSPEND, "moon"),
    RowAction("resume", "Resume", policies.RESUME, "sunrise"),
    RowAction("shelve", "Shelve Instance", policies.SHELVE, "box-arrow-in-down"),
    RowAction("shelveOffload", "Shelve Offload", policies.SHELVE_OFFLOAD, "box-arrow-down"),
    RowAction("unshelve", "Unshelve Instance", policies.UNSHELVE, "box-arrow-up"),
)
POWER_BY_NAME = {a.name: a for a in POWER_ACTIONS}

# The batch actions of the table: name → (label, rule, service action or "delete").
BATCH_ACTIONS = {
    "start": ("Start", policies.SERVERS_START),
    "stop": ("Shut Off", policies.SERVERS_STOP),
    "reboot": ("Soft Reboot", policies.SERVERS_REBOOT),
    "delete": ("Delete", policies.SERVERS_DELETE),
}

# Resize, rebuild and rescue: the dialogs (a page each) and the confirm/revert/unrescue POSTs
# (instance-op), offered when the state allows them (the states of services.resize and .rebuild).
DIALOG_OPS = ("resize", "rebuild", "rescue", "live_migrate")
OPS = (
    RowAction("confirm_resize", "Confirm Resize", policies.SERVERS_CONFIRM_RESIZE, "check2-circle"),
    RowAction("revert_resize", "Revert Resize", policies.SERVERS_REVERT_RESIZE, "arrow-counterclockwise"),
    RowAction("resize", "Resize Instance", policies.SERVERS_RESIZE, "arrows-angle-expand"),
    RowAction("migrate", "Migrate Instance", policies.MIGRATE, "arrow-left-right"),
    RowAction("rebuild", "Rebuild Instance", policies.SERVERS_REBUILD, "bootstrap-reboot", danger=True),
    RowAction("rescue", "Rescue Instance", policies.RESCUE, "life-preserver"),
    RowAction("unrescue", "Unrescue Instance", policies.UNRESCUE, "box-arrow-left"),
    RowAction("live_migrate", "Live Migrate Instance", policies.MIGRATE_LIVE, "arrow-left-right"),
)
OPS_BY_NAME = {a.name: a for a in OPS}
_OP_STATES = {
    "resize": RESIZABLE,
    "migrate": RESIZABLE,
    "confirm_resize": (VmState.RESIZED,),
    "revert_resize": (VmState.RESIZED,),
    "rebuild": REBUILDABLE,
    "rescue": RESCUABLE,
    "unrescue": (VmState.RESCUED,),
    "live_migrate": MIGRATABLE,
}


def op_allowed(instance: Instance, name: str) -> bool:
    if instance.host_id is None or instance.task_state != TaskState.NONE:
        return False
    if name in ("resize", "migrate", "rebuild", "rescue", "live_migrate") and not instance.image_id:
        return False  # volume-backed: not supported for these
    return instance.vm_state in _OP_STATES[name]


STATUS_BADGES = {
    "ACTIVE": "success",
    "BUILD": "info",
    "REBOOT": "info",
    "HARD_REBOOT": "info",
    "SHUTOFF": "secondary",
    "PAUSED": "warning",
    "SUSPENDED": "warning",
    "ERROR": "danger",
    "RESIZE": "info",
    "VERIFY_RESIZE": "warning",
    "REVERT_RESIZE": "info",
    "REBUILD": "info",
    "RESCUE": "warning",
    "MIGRATING": "info",
}


def is_transitional(instance: Instance) -> bool:
    return instance.vm_state == VmState.BUILDING or instance.task_state != TaskState.NONE


def next_poll(current: int | None) -> int:
    """2 s, 4 s, 8 s … capped at 30 s: a row that takes long to settle is asked less often."""
    if not current:
        return FIRST_POLL
    return min(LAST_POLL, current * 2)


def state_allows(instance: Instance, action: str) -> bool:
    """Whether the instance's state lets ``action`` begin now (the same table begin_action uses)."""
    if action == "delete":
        return instance.task_state != TaskState.DELETING
    if action in ("log", "snapshot"):
        spec = ACTIONS["createImage"] if action == "snapshot" else None
        if instance.host_id is None:
            return False
        return spec is None or (instance.vm_state in spec.allowed and instance.task_state == TaskState.NONE)
    if action == "unshelve":  # an offloaded instance has no host: unshelve schedules one
        shelved = (VmState.SHELVED, VmState.SHELVED_OFFLOADED)
        return instance.task_state == TaskState.NONE and instance.vm_state in shelved
    spec = ACTIONS[action]
    return (
        instance.host_id is not None
        and instance.task_state == TaskState.NONE
        and instance.vm_state in spec.allowed
    )


class Permissions:
    """Policy answers for rows, asked once per (rule, project) however many rows there are."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._cache: dict[tuple[str, str], bool] = {}

    def __call__(self, rule: str, project_id: str) -> bool:
        key = (rule, project_id)
        if key not in self._cache:
            self._cache[key] = can(self.ctx, rule, {"project_id": project_id})
        return self._cache[key]


@dataclass
class Row:
    instance: Instance
    image_name: str
    power: list[RowAction]
    snapshot: bool
    log: bool
    delete: bool
    poll: int | None  # seconds until the row asks again; None when it has settled
    error: str = ""
    ops: list[RowAction] = field(default_factory=list)
    # Edit Instance, Update Metadata, Lock and Unlock (views.edit)
    edit: bool = False
    metadata: bool = False
    lock: bool = False
    unlock: bool = False

    @property
    def badge(self) -> str:
        return STATUS_BADGES.get(self.instance.status, "secondary")


def can_unlock(instance: Instance, perms: Permissions) -> bool:
    """Unlock, and the override rule when the other side (owner / admin) locked it."""
    pid = instance.project_id
    if not instance.locked or not perms(policies.UNLOCK, pid):
        return False
    return locks.is_expected_locker(perms.ctx, instance) or perms(policies.UNLOCK_OVERRIDE, pid)


def build_row(instance: Instance, perms: Permissions, image_name: str, poll: int | None = None) -> Row:
    pid = instance.project_id
    alive = instance.task_state != TaskState.DELETING
    return Row(
        instance=instance,
        image_name=image_name,
        power=[a for a in POWER_ACTIONS if state_allows(instance, a.name) and perms(a.rule, pid)],
        snapshot=state_allows(instance, "snapshot") and perms(policies.SERVERS_CREATE_IMAGE, pid),
        log=state_allows(instance, "log") and perms(policies.CONSOLE_OUTPUT, pid),
        delete=state_allows(instance, "delete") and perms(policies.SERVERS_DELETE, pid),
        poll=next_poll(poll) if is_transitional(instance) else None,
        ops=[a for a in OPS if op_allowed(instance, a.name) and perms(a.rule, pid)],
        edit=alive and perms(policies.SERVERS_UPDATE, pid),
        metadata=alive and perms(policies.METADATA_UPDATE_ALL, pid),
        lock=alive and not instance.locked and perms(policies.LOCK, pid),
        unlock=alive and can_unlock(instance, perms),
    )


def image_names(image_ids: Iterable[str]) -> dict[str, str]:
    """Names of the images instances were launched from, in one query; a deleted image shows
    as its id."""

    ids = set()
    for value in image_ids:
        try:
            ids.add(uuid.UUID(value))
        except (TypeError, ValueError):
            continue
    names = dict(Image.objects.filter(pk__in=ids).values_list("pk", "name"))
    return {str(pk): name or str(pk) for pk, name in names.items()}


def build_rows(instances: Iterable[Instance], ctx) -> list[Row]:
    instances = list(instances)
    names = image_names(i.image_id for i in instances)
    perms = Permissions(ctx)
    return [build_row(i, perms, names.get(i.image_id, i.image_id), None) for i in instances]
