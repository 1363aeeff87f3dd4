"""Server groups (Nova's os-server-groups): a placement policy shared by their member instances."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from dashboard.models import Project
from instances.choices import ServerGroupPolicy
from instances.models.servers import Instance


class ServerGroupQuerySet(models.QuerySet):
    def for_project(self, project_id: str | None) -> ServerGroupQuerySet:
        return self.filter(project_id=project_id)

    def visible_to(self, ctx, all_projects: bool = False) -> ServerGroupQuerySet:
        if all_projects and ctx.is_admin:
            return self.all()
        return self.for_project(ctx.project_id)

    def accessible_to(self, ctx) -> ServerGroupQuerySet:
        """Groups the caller may look at by id: its project's, any for an admin."""
        return self.all() if ctx.is_admin else self.for_project(ctx.project_id)


class ServerGroup(models.Model):
    """Nova deletes server groups outright (no soft delete); members go with them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="server_groups")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    policy = models.CharField(max_length=32, choices=ServerGroupPolicy.choices)
    # Only anti-affinity has a rule: {"max_server_per_host": N} (2.64).
    rules = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ServerGroupQuerySet.as_manager()

    class Meta:
        ordering = ["name", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(policy__in=[p.value for p in ServerGroupPolicy]),
                name="server_group_policy_known",
                violation_error_message="Unknown server group policy.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.policy})"

    @property
    def max_server_per_host(self) -> int:
        """How many members one host may hold: the anti-affinity rule, 1 by default."""
        return int((self.rules or {}).get("max_server_per_host", 1))

    def live_members(self) -> models.QuerySet[Instance]:
        return Instance.objects.alive().filter(server_group_membership__group=self)


class ServerGroupMember(models.Model):
    """An instance belongs to at most one group, from its launch until the group is deleted."""

    group = models.ForeignKey(ServerGroup, on_delete=models.CASCADE, related_name="members")
    instance = models.OneToOneField(
        Instance, on_delete=models.CASCADE, related_name="server_group_membership"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.instance_id} in {self.group_id}"
