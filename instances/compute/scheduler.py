"""Where an instance runs: filter the hosts, weigh them by free RAM (spread), claim on the best.

The claim is one conditional UPDATE on the host's usage counters — it only matches while the
request still fits capacity × ratio — run in the transaction that assigns the host to the
instance. A host filled by a parallel launch between the filter and the claim is skipped and
the next one tried, so no host is ever overcommitted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import F

from dashboard.exceptions import StratusError
from instances.models import ComputeHost

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
    return fitting, ""


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
    Must run inside the transaction that records the host on the instance."""
    hosts, reason = candidates(request)
    for host in hosts:
        if claim(host, request):
            return host
        log.info("host %s filled up while scheduling; trying the next one", host.name)
    raise NoValidHost(reason or "Every suitable host filled up while scheduling.")
