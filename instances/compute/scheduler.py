"""Where an instance runs: filter the hosts, weigh them by free RAM (spread), claim on the best.

The claim is one conditional UPDATE on the host's usage counters — it only matches while the
request still fits capacity × ratio — run in the transaction that assigns the host to the
instance. A host filled by a parallel launch between the filter and the claim is skipped and
the next one tried, so no host is ever overcommitted.

A server group's policy is applied in the same transaction: its row is locked first
(``SELECT … FOR UPDATE``; SQLite's IMMEDIATE transactions serialise writers anyway), the hosts of
its members are read, and the new member is recorded before the transaction commits, so two
parallel launches into an anti-affinity group can never both pick the same host. The hard
policies filter hosts; the soft ones (2.15) only weigh them.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, F

from dashboard.exceptions import StratusError
from instances.choices import ServerGroupPolicy
from instances.models import ComputeHost, Instance, ServerGroup

log = logging.getLogger(__name__)


class NoValidHost(StratusError):
    status = 500

    def __init__(self, reason: str):
        super().__init__(f"No valid host was found. {reason}".strip())


@dataclass(frozen=True)
class Request:
    vcpus: int
    memory_mb: int
    disk_gb: int
    image_properties: dict
    availability_zone: str | None = None
    force_host: str | None = None
    # A resize without allow_resize_to_same_host: every host but the instance's own.
    exclude_host: str | None = None
    server_group_id: str | None = None  # os:scheduler_hints group


def _image_filter(host: ComputeHost, props: dict) -> str | None:
    """Why the image cannot run on the host, or None (Nova's ImagePropertiesFilter)."""
    arch = props.get("hw_architecture") or props.get("architecture")
    if arch and arch != host.arch:
        return f"architecture {arch}"
    hv_type = props.get("img_hv_type") or props.get("hypervisor_type")
    if hv_type and hv_type != host.hypervisor_type:
        return f"hypervisor type {hv_type}"
    if props.get("hw_firmware_type") == "uefi" and not host.uefi:
        return "UEFI firmware"
    return None


def candidates(request: Request) -> tuple[list[ComputeHost], str]:
    """Hosts that pass every filter, best first; with the reason when there are none."""
    hosts = ComputeHost.objects.all()
    if request.force_host:
        hosts = hosts.filter(name=request.force_host)
        if not hosts.exists():
            return [], f"Compute host {request.force_host} could not be found."
    if request.availability_zone:
        hosts = hosts.filter(availability_zone=request.availability_zone)
    if request.exclude_host:
        hosts = hosts.exclude(name=request.exclude_host)
    hosts = hosts.schedulable()
    if not hosts.exists():
        where = f" in availability zone {request.availability_zone}" if request.availability_zone else ""
        return [], f"There are no enabled compute hosts that are up{where}."
    sized = list(hosts.with_room_for(request.vcpus, request.memory_mb, request.disk_gb))
    if not sized:
        return [], (
            f"No host has room for {request.vcpus} vCPU, {request.memory_mb} MB RAM "
            f"and {request.disk_gb} GB disk."
        )
    fitting, refused = [], set()
    for host in sized:
        why = _image_filter(host, request.image_properties)
        if why is None:
            fitting.append(host)
        else:
            refused.add(why)
    if not fitting:
        return [], f"No host supports the image's {', '.join(sorted(refused))}."
    # Spread: most free RAM first; the name breaks ties so placement is deterministic.
    fitting.sort(key=lambda h: (-h.free_memory_mb, h.name))
    if request.server_group_id:
        return _apply_group(fitting, request.server_group_id)
    return fitting, ""


def group_hosts(group_id) -> Counter:
    """How many live members of the group each host holds (offloaded members hold none)."""
    rows = (
        Instance.objects.alive()
        .filter(server_group_membership__group_id=group_id, host__isnull=False)
        .values("host_id")
        .annotate(n=Count("pk"))
    )
    return Counter({r["host_id"]: r["n"] for r in rows})


def _apply_group(hosts: list[ComputeHost], group_id) -> tuple[list[ComputeHost], str]:
    """Nova's ServerGroup(Anti)AffinityFilter and the soft weighers, on hosts sorted best first."""
    group = ServerGroup.objects.filter(pk=group_id).first()
    if group is None:
        return hosts, ""
    members = group_hosts(group.pk)
    policy = group.policy
    if policy == ServerGroupPolicy.AFFINITY and members:
        kept = [h for h in hosts if h.pk in members]
        return kept, "" if kept else f"The hosts of server group {group.pk}'s members (affinity) are full."
    if policy == ServerGroupPolicy.ANTI_AFFINITY:
        limit = group.max_server_per_host
        kept = [h for h in hosts if members[h.pk] < limit]
        why = f"Every suitable host already holds a member of server group {group.pk} (anti-affinity)."
        return kept, "" if kept else why
    if policy == ServerGroupPolicy.SOFT_ANTI_AFFINITY:
        return sorted(hosts, key=lambda h: members[h.pk]), ""  # stable: free RAM breaks ties
    if policy == ServerGroupPolicy.SOFT_AFFINITY:
        return sorted(hosts, key=lambda h: -members[h.pk]), ""
    return hosts, ""


def lock_group(group_id) -> None:
    """Serialise placements into one server group (held until the transaction ends)."""
    list(ServerGroup.objects.select_for_update().filter(pk=group_id).values_list("pk"))


def claim(host: ComputeHost, request: Request) -> bool:
    """Take the request's resources on the host if they still fit; False if they no longer do."""
    return bool(
        ComputeHost.objects.filter(pk=host.pk)
        .with_room_for(request.vcpus, request.memory_mb, request.disk_gb)
        .update(
            vcpus_used=F("vcpus_used") + request.vcpus,
            memory_mb_used=F("memory_mb_used") + request.memory_mb,
            local_gb_used=F("local_gb_used") + request.disk_gb,
        )
    )


def release(host_id: int, vcpus: int, memory_mb: int, disk_gb: int) -> None:
    """Give a claim back. Callers do this once, in the transaction that moves the instance to
    deleted (a conditional UPDATE only one caller can win)."""
    ComputeHost.objects.filter(pk=host_id).update(
        vcpus_used=F("vcpus_used") - vcpus,
        memory_mb_used=F("memory_mb_used") - memory_mb,
        local_gb_used=F("local_gb_used") - disk_gb,
    )


def select_and_claim(request: Request) -> ComputeHost:
    """The host the instance goes to, with its resources claimed; NoValidHost otherwise.
    Must run inside the transaction that records the host on the instance (and, with a server
    group, its membership)."""
    if request.server_group_id:
        lock_group(request.server_group_id)
    hosts, reason = candidates(request)
    for host in hosts:
        if claim(host, request):
            return host
        log.info("host %s filled up while scheduling; trying the next one", host.name)
    raise NoValidHost(reason or "Every suitable host filled up while scheduling.")
