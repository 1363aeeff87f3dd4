"""The log of actions on instances and the compute work each one did (Nova's instance actions
and their events). The API records an action when it accepts a request, under the request's id;
the compute agent adds an event when it starts the work and closes it with the result."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from instances.choices import TaskState
from instances.models import InstanceAction, InstanceActionEvent

# The task state the compute agent works in → (the action it works on, Nova's event name).
TASK_EVENTS: dict[str, tuple[str, str]] = {
    TaskState.SPAWNING: ("create", "compute__do_build_and_run_instance"),
    TaskState.POWERING_OFF: ("stop", "compute_stop_instance"),
    TaskState.POWERING_ON: ("start", "compute_start_instance"),
    TaskState.REBOOTING: ("reboot", "compute_reboot_instance"),
    TaskState.REBOOTING_HARD: ("reboot", "compute_reboot_instance"),
    TaskState.PAUSING: ("pause", "compute_pause_instance"),
    TaskState.UNPAUSING: ("unpause", "compute_unpause_instance"),
    TaskState.SUSPENDING: ("suspend", "compute_suspend_instance"),
    TaskState.RESUMING: ("resume", "compute_resume_instance"),
    TaskState.IMAGE_SNAPSHOT: ("createImage", "compute_snapshot_instance"),
    TaskState.IMAGE_BACKUP: ("createBackup", "compute_backup_instance"),
    TaskState.DELETING: ("delete", "compute_terminate_instance"),
    TaskState.RESIZE_PREP: ("resize", "compute_prep_resize"),
    TaskState.RESIZE_REVERTING: ("revertResize", "compute_revert_resize"),
    TaskState.REBUILDING: ("rebuild", "compute_rebuild_instance"),
    TaskState.RESCUING: ("rescue", "compute_rescue_instance"),
    TaskState.UNRESCUING: ("unrescue", "compute_unrescue_instance"),
    TaskState.SHELVING: ("shelve", "compute_shelve_instance"),
    TaskState.SHELVING_OFFLOADING: ("shelveOffload", "compute_shelve_offload_instance"),
    TaskState.UNSHELVING: ("unshelve", "compute_unshelve_instance"),
}


def record_action(instance_id, action: str, ctx=None, request_id: str = "") -> InstanceAction:
    return InstanceAction.objects.create(
        instance_id=instance_id,
        action=action,
        user=ctx.user if ctx is not None else None,
        project_id=(ctx.project_id or "") if ctx is not None else "",
        request_id=request_id,
    )


def _open_action(instance_id, action: str) -> InstanceAction | None:
    return (
        InstanceAction.objects.filter(instance_id=instance_id, action=action, finish_time__isnull=True)
        .order_by("-start_time", "-id")
        .first()
    )


def finish_action(instance_id, action: str, result: str = "Success", message: str = "") -> None:
    """Close the newest open entry of ``action`` and its open events (a no-op when a retry
    already did). An error's message becomes the event's traceback, as Nova keeps it."""
    entry = _open_action(instance_id, action)
    if entry is None:
        return
    now = timezone.now()
    with transaction.atomic():
        closed = InstanceAction.objects.filter(pk=entry.pk, finish_time__isnull=True).update(
            finish_time=now, result=result, message=message[:2000], updated_at=now
        )
        if closed:
            InstanceActionEvent.objects.filter(action=entry, finish_time__isnull=True).update(
                finish_time=now,
                result=result,
                traceback=message if result != "Success" else "",
                details=message[:255] if result != "Success" else "",
            )


def start_event(instance_id, task_state: str, host: str) -> InstanceActionEvent | None:
    """The agent on ``host`` takes up the work of ``task_state``: an event on the instance's open
    action of that kind, named as Nova names it."""
    known = TASK_EVENTS.get(task_state)
    if known is None:
        return None
    action, event = known
    entry = _open_action(instance_id, action)
    if entry is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        InstanceAction.objects.filter(pk=entry.pk).update(updated_at=now)
        return InstanceActionEvent.objects.create(action=entry, event=event, host=host, start_time=now)


def fail_events(instance_id, traceback: str) -> None:
    """The agent's task died with an error nobody expected and the instance went to ERROR: no
    work on it is in progress any more, so its open actions end in Error, with the traceback on
    their open events."""
    open_actions = InstanceAction.objects.filter(instance_id=instance_id, finish_time__isnull=True)
    for action in set(open_actions.values_list("action", flat=True)):
        finish_action(instance_id, action, "Error", traceback)
