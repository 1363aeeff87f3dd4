"""Compute hosts: capacity reported by their agent, and what instances have claimed of it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from instances.choices import HypervisorType


class ComputeHostQuerySet(models.QuerySet):
    def up(self) -> ComputeHostQuerySet:
        cutoff = timezone.now() - timedelta(seconds=settings.COMPUTE_HOST_DOWN_AFTER)
        return self.filter(last_heartbeat__gte=cutoff, forced_down=False)

    def schedulable(self) -> ComputeHostQuerySet:
        return self.up().filter(enabled=True)

    def with_room_for(self, vcpus: int, memory_mb: int, disk_gb: int) -> ComputeHostQuerySet:
        """Hosts whose claims plus this request stay within capacity × allocation ratio. The
        same condition guards the claim UPDATE, so a host filled meanwhile is skipped there."""
        return self.filter(
            vcpus_used__lte=F("vcpus") * F("cpu_allocation_ratio") - vcpus,
            memory_mb_used__lte=F("memory_mb") * F("ram_allocation_ratio") - memory_mb,
            local_gb_used__lte=F("local_gb") * F("disk_allocation_ratio") - disk_gb,
        )


class ComputeHost(models.Model):
    # Nova ≥2.53 names hypervisors by UUID.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255, unique=True)
    availability_zone = models.CharField(max_length=255, default="nova")
    hypervisor_type = models.CharField(max_length=16, choices=HypervisorType.choices)
    arch = models.CharField(max_length=32)
    uefi = models.BooleanField(default=False)
    vcpus = models.PositiveIntegerField()
    memory_mb = models.PositiveIntegerField()
    local_gb = models.PositiveIntegerField()
    # Copied from settings when the agent registers, so a host keeps the ratios it was started with.
    cpu_allocation_ratio = models.FloatField(default=4.0)
    ram_allocation_ratio = models.FloatField(default=1.0)
    disk_allocation_ratio = models.FloatField(default=1.0)
    vcpus_used = models.IntegerField(default=0)
    memory_mb_used = models.IntegerField(default=0)
    local_gb_used = models.IntegerField(default=0)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    # Nova's forced_down: an admin (or a fencing tool) declares the host dead before its
    # heartbeat goes stale, so evacuate may rebuild its instances elsewhere at once.
    forced_down = models.BooleanField(default=False)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    capabilities = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ComputeHostQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(vcpus_used__gte=0) & Q(memory_mb_used__gte=0) & Q(local_gb_used__gte=0),
                name="compute_host_usage_not_negative",
                violation_error_message="Claimed resources cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_up(self) -> bool:
        if self.last_heartbeat is None or self.forced_down:
            return False
        return timezone.now() - self.last_heartbeat <= timedelta(seconds=settings.COMPUTE_HOST_DOWN_AFTER)

    @property
    def accelerator(self) -> str:
        """What the host's guests run on ("kvm", "tcg"), as its driver last reported."""
        return (self.capabilities or {}).get("extra", {}).get("accel", "")

    @property
    def accelerator_reason(self) -> str:
        """Why the driver chose that accelerator (for TCG: why KVM is not used)."""
        return (self.capabilities or {}).get("extra", {}).get("accel_reason", "")

    @property
    def networking(self) -> dict[str, str]:
        """How the host networks its instances: {"mode": "bridge" or "user", "reason": why}."""
        return (self.capabilities or {}).get("networking", {})

    @property
    def queue(self) -> str:
        return f"compute.{self.name}"

    @property
    def free_memory_mb(self) -> float:
        return self.memory_mb * self.ram_allocation_ratio - self.memory_mb_used
