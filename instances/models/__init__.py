"""Flavors, compute hosts, instances and their networks and quotas."""

from .flavors import (
    EXTRA_SPEC_KEY_RE,
    FLAVOR_ID_RE,
    MAX_INT,
    MAX_RXTX,
    Flavor,
    FlavorAccess,
    FlavorExtraSpec,
    FlavorQuerySet,
)
from .hosts import ComputeHost
from .servers import ComputeQuota, Instance, InstanceAction, ProjectNetwork
from .volumes import Volume, VolumeAttachment, VolumeQuerySet, VolumeQuota

__all__ = [
    "EXTRA_SPEC_KEY_RE",
    "FLAVOR_ID_RE",
    "MAX_INT",
    "MAX_RXTX",
    "ComputeHost",
    "ComputeQuota",
    "Flavor",
    "FlavorAccess",
    "FlavorExtraSpec",
    "FlavorQuerySet",
    "Instance",
    "InstanceAction",
    "ProjectNetwork",
    "Volume",
    "VolumeAttachment",
    "VolumeQuerySet",
    "VolumeQuota",
]
