"""Moves of an instance between hosts: cold migration, resize, live migration and evacuation, as
Nova records them (os-migrations, servers/{id}/migrations). One row per move; its status follows
the move's steps (see services.migrations)."""

from __future__ import annotations

import uuid

from django.db import models

from instances.choices import MIGRATION_IN_PROGRESS, MigrationStatus, MigrationType
from instances.models.hosts import ComputeHost
from instances.models.servers import Instance


class MigrationQuerySet(models.QuerySet):
    def in_progress(self) -> MigrationQuerySet:
        return self.filter(status__in=MIGRATION_IN_PROGRESS)


class Migration(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="migrations")
    migration_type = models.CharField(max_length=16, choices=MigrationType.choices)
    status = models.CharField(max_length=16, choices=MigrationStatus.choices)
    # Host names are kept as text too: a removed host still shows in the history.
    source_host = models.ForeignKey(
        ComputeHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dest_host = models.ForeignKey(
        ComputeHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_compute = models.CharField(max_length=255, blank=True, default="")
    dest_compute = models.CharField(max_length=255, blank=True, default="")
    old_flavor_ref = models.CharField(max_length=255, blank=True, default="")
    new_flavor_ref = models.CharField(max_length=255, blank=True, default="")
    project_id = models.CharField(max_length=64, blank=True, default="")
    user_id = models.CharField(max_length=64, blank=True, default="")
    error = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MigrationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["instance", "status"], name="migration_instance_status")]

    def __str__(self) -> str:
        return f"{self.migration_type} of {self.instance_id} ({self.status})"
