"""Volumes (persistent block storage), their attachments to instances, and volume quotas."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q

from dashboard.models import Project, ProjectOwnedQuerySet
from instances.choices import VOLUME_TRANSITIONAL, VolumeSource, VolumeStatus
from instances.models.servers import Instance


class VolumeQuota(models.Model):
    """Per-project overrides of the volume quotas; a null field means the setting's default."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="volume_quota")
    volumes = models.IntegerField(null=True, blank=True)
    gigabytes = models.IntegerField(null=True, blank=True)
    per_volume_gigabytes = models.IntegerField(null=True, blank=True)
    # Cinder's quotas of resources Stratus does not have: kept as set, never used.
    snapshots = models.IntegerField(null=True, blank=True)
    backups = models.IntegerField(null=True, blank=True)
    backup_gigabytes = models.IntegerField(null=True, blank=True)
    groups = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"volume quota of {self.project_id}"


class VolumeQuerySet(ProjectOwnedQuerySet):
    def for_api(self) -> VolumeQuerySet:
        """Attachments come with the volumes in one extra query, never one per row."""
        return self.prefetch_related(
            models.Prefetch("attachments", queryset=VolumeAttachment.objects.select_related("instance__host"))
        )

    def transitional(self) -> VolumeQuerySet:
        return self.filter(status__in=VOLUME_TRANSITIONAL)


class Volume(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="volumes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    size = models.PositiveIntegerField(help_text="GiB")
    status = models.CharField(max_length=16, choices=VolumeStatus.choices, default=VolumeStatus.CREATING)
    # The status a transitional status returns to if its worker dies (the sweeper's target).
    previous_status = models.CharField(max_length=16, blank=True, default="")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    bootable = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=VolumeSource.choices, default=VolumeSource.EMPTY)
    # No foreign keys: the image or volume a volume was made from may be deleted afterwards.
    source_image_id = models.CharField(max_length=64, blank=True, default="")
    source_volume_id = models.CharField(max_length=64, blank=True, default="")
    volume_image_metadata = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    availability_zone = models.CharField(max_length=255, default="nova")
    # File format on the back end, fixed when the volume is created (the setting may change later).
    format = models.CharField(max_length=8, default="qcow2")
    # Grow to this size (os-extend) while extending; the image an upload goes into while uploading.
    pending = models.JSONField(default=dict, blank=True)
    error_message = models.CharField(max_length=255, blank=True, default="")
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VolumeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "deleted", "created_at"], name="volume_project_alive"),
            models.Index(fields=["status", "status_changed_at"], name="volume_status_changed"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(size__gte=1),
                name="volume_size_positive",
                violation_error_message="A volume is at least 1 GiB.",
            ),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)

    @property
    def path(self) -> Path:
        return Path(settings.VOLUMES_DIR) / f"volume-{self.id}.{self.format}"

    @property
    def attachment(self) -> VolumeAttachment | None:
        """The volume's attachment (a volume attaches to one instance); uses the prefetch."""
        return next(iter(self.attachments.all()), None)


class VolumeAttachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    volume = models.ForeignKey(Volume, on_delete=models.CASCADE, related_name="attachments")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="volume_attachments")
    device = models.CharField(max_length=8)  # the virtio target: vda (boot volume), vdc, vdd …
    delete_on_termination = models.BooleanField(default=False)
    attached_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["device"]
        constraints = [
            models.UniqueConstraint(
                fields=["volume"],
                name="volume_attached_once",
                violation_error_message="This volume is already attached.",
            ),
            models.UniqueConstraint(
                fields=["instance", "device"],
                name="volume_attachment_device_unique",
                violation_error_message="This device is already in use on the instance.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volume_id} on {self.instance_id} as {self.device}"

    @property
    def device_path(self) -> str:
        return f"/dev/{self.device}"
