"""Compute hosts, instances, their networks and quotas, and volumes."""

from instances.models.consoles import ConsoleToken
from instances.models.hosts import ComputeHost
from instances.models.keypairs import KeyPair, KeyPairType
from instances.models.server_groups import ServerGroup, ServerGroupMember
from instances.models.servers import (
    ComputeQuota,
    ComputeQuotaClass,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceTag,
    PortForward,
    ProjectNetwork,
)
from instances.models.volumes import Volume, VolumeAttachment, VolumeQuerySet, VolumeQuota

__all__ = [
    "ComputeHost",
    "ComputeQuota",
    "ComputeQuotaClass",
    "ConsoleToken",
    "Instance",
    "InstanceAction",
    "InstanceActionEvent",
    "InstanceTag",
    "KeyPair",
    "KeyPairType",
    "PortForward",
    "ProjectNetwork",
    "ServerGroup",
    "ServerGroupMember",
    "Volume",
    "VolumeAttachment",
    "VolumeQuerySet",
    "VolumeQuota",
]
