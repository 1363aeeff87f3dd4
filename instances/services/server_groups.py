"""Server groups: create, delete, find, and the membership a launch records (quota'd as Nova
does: groups per project, members per group). Placement itself is the scheduler's."""

from __future__ import annotations

import uuid

from django.db import transaction

from dashboard.exceptions import BadRequest, NotFound
from dashboard.models import Project
from instances.choices import ServerGroupPolicy
from instances.models import Instance, ServerGroup, ServerGroupMember
from instances.services import quotas

SOFT_POLICIES = (ServerGroupPolicy.SOFT_AFFINITY, ServerGroupPolicy.SOFT_ANTI_AFFINITY)


def check_rules(policy: str, rules: dict) -> dict:
    """Nova's rules (2.64): only anti-affinity has one, max_server_per_host, a positive integer."""
    if not rules:
        return {}
    if policy != ServerGroupPolicy.ANTI_AFFINITY:
        raise BadRequest(
            f"Invalid input for field/attribute rules. Only anti-affinity policy has rules, not {policy}."
        )
    unknown = set(rules) - {"max_server_per_host"}
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute rules. Additional properties are not allowed "
            f"({', '.join(sorted(unknown))} unexpected)"
        )
    value = rules["max_server_per_host"]
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(
            f"Invalid input for field/attribute max_server_per_host. Value: {value}. "
            "It must be an integer of at least 1."
        )
    return {"max_server_per_host": value}


def create_group(ctx, name: str, policy: str, rules: dict | None = None) -> ServerGroup:
    rules = check_rules(policy, rules or {})
    with transaction.atomic():
        Project.objects.lock(ctx.project_id)
        limit = quotas.limits_for(ctx.project_id)["server_groups"]
        used = ServerGroup.objects.for_project(ctx.project_id).count()
        if 0 <= limit <= used:
            raise quotas.OverQuota("Quota exceeded, too many server groups.")
        return ServerGroup.objects.create(
            name=name, project_id=ctx.project_id, user=ctx.user, policy=policy, rules=rules
        )


def get_group(ctx, group_id) -> ServerGroup:
    """A group the caller may see (its project's; any for an admin), else NotFound."""
    try:
        pk = uuid.UUID(str(group_id))
    except ValueError as exc:
        raise NotFound(f"Instance group {group_id} could not be found.") from exc
    group = ServerGroup.objects.accessible_to(ctx).filter(pk=pk).first()
    if group is None:
        raise NotFound(f"Instance group {group_id} could not be found.")
    return group


def delete_group(group: ServerGroup) -> None:
    """Members stay as they are (Nova keeps the instances; they just leave the group)."""
    ServerGroup.objects.filter(pk=group.pk).delete()


def group_for_launch(ctx, group_id: str) -> ServerGroup:
    """The group a launch hint names; a 400 when the caller has no such group (as Nova)."""
    try:
        return get_group(ctx, group_id)
    except NotFound as exc:
        raise BadRequest(f"Invalid server group: {group_id} could not be found.") from exc


def check_member_quota(group: ServerGroup, adding: int) -> None:
    """Call inside the launch transaction, after the scheduler locked the group."""
    limit = quotas.limits_for(group.project_id)["server_group_members"]
    used = group.live_members().count()
    if 0 <= limit < used + adding:
        raise quotas.OverQuota("Quota exceeded, too many servers in group")


def add_member(group: ServerGroup, instance: Instance) -> None:
    ServerGroupMember.objects.create(group=group, instance=instance)


def member_ids(group: ServerGroup) -> list[str]:
    return [str(pk) for pk in group.live_members().order_by("created_at").values_list("pk", flat=True)]
