"""Instance networking on a compute host: which mode the host runs, and plugging instances into
their project network's bridge (instances/virt/hostnet.py does the host side).

Bridge mode: each project network with an instance on this host is a bridge with the network's
gateway address, each instance a tap on it, and the host's dnsmasq hands every instance its
recorded address. User mode (the fallback when the agent cannot manage bridges, or when an
operator asks for it): QEMU user networking, which nothing outside the guest can reach.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from instances.models import Instance, PortForward, ProjectNetwork
from instances.services.guest_metadata import hostname
from instances.virt.hostnet import HostEntry, HostNetwork

log = logging.getLogger(__name__)


class NetworkingUnavailable(Exception):
    """Bridge networking was required (STRATUS_COMPUTE_NETWORKING=bridge) but this host cannot do it."""


@dataclass(frozen=True)
class Mode:
    name: str  # "bridge" or "user"
    reason: str  # why this mode

    def to_dict(self) -> dict[str, str]:
        return {"mode": self.name, "reason": self.reason}


def choose(state_dir: Path, wanted: str | None = None) -> tuple[HostNetwork | None, Mode]:
    """The host's networking for STRATUS_COMPUTE_NETWORKING (auto, bridge or user)."""
    wanted = wanted or settings.COMPUTE_NETWORKING
    if wanted == "user":
        return None, Mode("user", "STRATUS_COMPUTE_NETWORKING=user")
    host = HostNetwork(
        state_dir / "network",
        masquerade=settings.COMPUTE_NETWORK_MASQUERADE,
        metadata_port=settings.METADATA_PORT,
    )
    problem = host.available()
    if problem is None:
        return host, Mode("bridge", "a bridge per project network, DHCP from the host")
    if wanted == "bridge":
        raise NetworkingUnavailable(f"bridge networking was required but is not possible here: {problem}")
    log.warning("instances get QEMU user networking (unreachable from outside): %s", problem)
    return None, Mode("user", f"no bridges: {problem}")


def net_id(network: ProjectNetwork) -> str:
    return f"net-{network.pk}"


class InstanceNetworks:
    """Plugs this host's instances into their networks and takes them out again."""

    def __init__(self, host_name: str, host: HostNetwork):
        self.host_name = host_name
        self.host = host

    def plug(self, instance: Instance) -> str:
        """The network's bridge, the instance's tap on it and its DHCP entry; returns the tap."""
        network = instance.network
        self.host.ensure_network(net_id(network), network.cidr, network.gateway)
        tap = self.host.ensure_port(net_id(network), str(instance.pk), instance.mac_address)
        self._serve(network)
        return tap

    def unplug(self, instance: Instance) -> None:
        """The instance's tap gone; the network's DHCP without it; the bridge gone with the last
        instance of the network on this host."""
        self.host.remove_port(str(instance.pk))
        if instance.network is not None:
            self._serve(instance.network, leaving=instance)

    def sync(self, running: set[str]) -> dict[str, int]:
        """When the agent starts and stops: the instances whose guest has a live QEMU process
        (``running``) are plugged in; the taps and bridges of every other instance (stopped, gone
        or elsewhere) are removed, and with the last of them the host's nftables table. An
        instance that starts later is plugged in before its QEMU starts."""
        instances = list(
            Instance.objects.alive()
            .filter(host__name=self.host_name, network__isnull=False, pk__in=running)
            .filter(address__isnull=False)
            .select_related("network")
        )
        for instance in instances:
            self.plug(instance)
        wanted_ports = {str(i.pk) for i in instances}
        wanted_nets = {net_id(i.network) for i in instances}
        existing = self.host.find_existing()
        removed = {"ports": 0, "networks": 0}
        for port in existing.ports:
            if port.port_id not in wanted_ports:
                self.host.remove_port(port.port_id)
                removed["ports"] += 1
        for network in existing.networks:
            if network.net_id and network.net_id not in wanted_nets:
                self.host.remove_network(network.net_id)
                removed["networks"] += 1
        if not instances and (existing.networks or existing.ports or existing.table):
            self.host.cleanup_all()  # nothing of ours is needed on this host
        return removed

    def sync_forwards(self, running: set[str] | None = None) -> dict[str, int]:
        """Make the host's port forwards exactly the rows of this host's live instances (of those
        in ``running`` only, when given: a stopped instance's forwards return when it starts)."""
        rows = PortForward.objects.filter(
            host__name=self.host_name, instance__deleted=False, instance__address__isnull=False
        ).select_related("instance")
        if running is not None:
            rows = rows.filter(instance__pk__in=running)
        wanted = {(f.bind_address, f.host_port): (f.instance.address, f.guest_port) for f in rows}
        existing = self.host.find_existing()
        present = {(f.bind_address, f.host_port): (f.guest_address, f.guest_port) for f in existing.forwards}
        changed = {"added": 0, "removed": 0}
        for key, target in present.items():
            if wanted.get(key) != target:
                self.host.remove_forward(*key)
                changed["removed"] += 1
        for key, target in wanted.items():
            if present.get(key) != target:
                self.host.add_forward(*key, *target)
                changed["added"] += 1
        return changed

    def _serve(self, network: ProjectNetwork, leaving: Instance | None = None) -> None:
        members = (
            Instance.objects.alive()
            .filter(host__name=self.host_name, network=network)
            .filter(address__isnull=False)
            .order_by("address")
        )
        if leaving is not None:
            members = members.exclude(pk=leaving.pk)
        entries = [HostEntry(i.mac_address, i.address, hostname(i)) for i in members]
        if entries:
            self.host.set_hosts(net_id(network), entries)
        else:
            self.host.remove_network(net_id(network))
