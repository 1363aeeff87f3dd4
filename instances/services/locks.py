"""Locking an instance (Nova's os-lock-server): a locked instance refuses every action from
anyone but an administrator. :func:`check_not_locked` is the one check the API and the
dashboard go through (the services call it before each state change)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from dashboard.exceptions import Conflict
from instances.models import Instance
from instances.services.action_log import finish_action, record_action


class InstanceIsLocked(Conflict):
    """Nova's 409 for an action on a locked instance."""


def check_not_locked(ctx, instance: Instance) -> None:
    """Refuse a change to a locked instance unless the caller is an administrator (Nova's
    check_instance_lock). Reads the row, not the caller's copy: a lock taken a moment ago counts."""
    if ctx is not None and ctx.is_admin:
        return
    if Instance.objects.filter(pk=instance.pk, locked=True).exists():
        raise InstanceIsLocked(f"Instance {instance.pk} is locked")


def locked_by_for(ctx, instance: Instance) -> str:
    """Nova's locked_by: "owner" when the instance's own project locks it, else "admin"."""
    return "owner" if ctx.project_id == instance.project_id else "admin"


def is_expected_locker(ctx, instance: Instance) -> bool:
    """Whether the caller is on the side that locked it (unlocking otherwise needs the
    unlock_override rule)."""
    return instance.locked_by == locked_by_for(ctx, instance)


def lock(ctx, instance: Instance, reason: str = "", request_id: str = "") -> None:
    """Lock (again: Nova keeps the first locker and overwrites nothing but the reason)."""
    with transaction.atomic():
        row = Instance.objects.select_for_update().filter(pk=instance.pk, deleted=False).first()
        if row is None:
            return
        fields = {"locked": True, "locked_reason": reason[:255], "updated_at": timezone.now()}
        if not row.locked:
            fields["locked_by"] = locked_by_for(ctx, instance)
        Instance.objects.filter(pk=instance.pk).update(**fields)
        record_action(instance.pk, "lock", ctx, request_id)
        finish_action(instance.pk, "lock")  # no compute work: done when recorded
        instance.locked, instance.locked_reason = True, fields["locked_reason"]
        instance.locked_by = fields.get("locked_by", row.locked_by)


def unlock(ctx, instance: Instance, request_id: str = "") -> None:
    with transaction.atomic():
        Instance.objects.filter(pk=instance.pk, deleted=False).update(
            locked=False, locked_by="", locked_reason="", updated_at=timezone.now()
        )
        record_action(instance.pk, "unlock", ctx, request_id)
        finish_action(instance.pk, "unlock")
    instance.locked, instance.locked_by, instance.locked_reason = False, "", ""
