"""The migration record of a move between hosts, written once for cold migration, resize,
evacuation (and live migration): created when the move begins, its status advanced by each step.
An instance has at most one move in progress, so a step finds its record by the instance."""

from __future__ import annotations

from instances.choices import MIGRATION_IN_PROGRESS, MigrationStatus, MigrationType
from instances.models import ComputeHost, Migration

# The instance action (os-instance-actions) each kind of move is recorded under.
ACTION = {
    MigrationType.MIGRATION: "migrate",
    MigrationType.RESIZE: "resize",
    MigrationType.LIVE_MIGRATION: "live-migration",
    MigrationType.EVACUATION: "evacuate",
}


def begin(
    instance,
    migration_type: str,
    source: ComputeHost | None,
    dest: ComputeHost | None,
    ctx=None,
    *,
    status: str = MigrationStatus.MIGRATING,
    old_flavor_ref: str = "",
    new_flavor_ref: str = "",
) -> Migration:
    """A new record (call inside the transaction that starts the move); an earlier one still
    marked in progress is over (its move was settled by a delete or an error)."""
    Migration.objects.filter(instance_id=instance.pk, status__in=MIGRATION_IN_PROGRESS).update(
        status=MigrationStatus.ERROR
    )
    return Migration.objects.create(
        instance_id=instance.pk,
        migration_type=migration_type,
        status=status,
        source_host=source,
        dest_host=dest,
        source_compute=source.name if source else "",
        dest_compute=dest.name if dest else "",
        old_flavor_ref=old_flavor_ref,
        new_flavor_ref=new_flavor_ref,
        project_id=str(getattr(ctx, "project_id", "") or ""),
        user_id=str(ctx.user.id) if ctx is not None else "",
    )


def advance(instance_id, status: str, *, error: str = "") -> int:
    """Move the instance's migration in progress on to ``status`` (0 if it has none)."""
    fields = {"status": status}
    if error:
        fields["error"] = error[:255]
    return Migration.objects.filter(instance_id=instance_id, status__in=MIGRATION_IN_PROGRESS).update(
        **fields
    )


def current(instance_id) -> Migration | None:
    return Migration.objects.filter(instance_id=instance_id, status__in=MIGRATION_IN_PROGRESS).first()


def action_of(instance_id, default: str = "resize") -> str:
    """The instance action name of the move in progress (``migrate`` for a cold migration)."""
    kind = (
        Migration.objects.filter(instance_id=instance_id, status__in=MIGRATION_IN_PROGRESS)
        .values_list("migration_type", flat=True)
        .first()
    )
    return ACTION.get(kind, default) if kind else default


def settle_on_delete(instance_id) -> None:
    """A deleted instance moves no more: a move waiting for its confirm counts as confirmed (as
    Nova confirms it on delete), any other one in progress as failed."""
    Migration.objects.filter(instance_id=instance_id, status=MigrationStatus.FINISHED).update(
        status=MigrationStatus.CONFIRMED
    )
    advance(instance_id, MigrationStatus.ERROR, error="The instance was deleted during the move.")
