"""Compute hosts, instances, their networks, and volumes."""

from instances.models.consoles import ConsoleToken
from instances.models.hosts import ComputeHost
from instances.models.keypairs import KeyPair, KeyPairType
from instances.models.migrations import Migration
from instances.models.server_groups import ServerGroup, ServerGroupMember
from instances.models.servers import (
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceSizeChange,
    InstanceTag,
    PortForward,
    ProjectNetwork,
)
from instances.models.volumes import Volume, VolumeAttachment, VolumeQuerySet

__all__ = [
    "ComputeHost",
    "ConsoleToken",
    "Instance",
    "InstanceAction",
    "InstanceActionEvent",
    "InstanceSizeChange",
    "InstanceTag",
    "KeyPair",
    "KeyPairType",
    "Migration",
    "PortForward",
    "ProjectNetwork",
    "ServerGroup",
    "ServerGroupMember",
    "Volume",
    "VolumeAttachment",
    "VolumeQuerySet",
]
