"""Project networks and instance addresses, recorded in the database and handed to the guest
(QEMU user networking with the DHCP start at the instance's address)."""

from __future__ import annotations

import ipaddress
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

from dashboard.exceptions import StratusError
from instances.models import Instance, ProjectNetwork

FIRST_HOST = 10  # .1 is the gateway, .2–.9 stay free for services (DNS, metadata)


class NetworkExhausted(StratusError):
    status = 409
    title = "Conflict"


def network_for(project_id: str) -> ProjectNetwork:
    """The project's /24, created on first use: the lowest /24 of the pool nobody holds."""
    existing = ProjectNetwork.objects.filter(project_id=project_id).first()
    if existing is not None:
        return existing
    pool = ipaddress.ip_network(settings.COMPUTE_NETWORK_POOL)
    taken = set(ProjectNetwork.objects.values_list("cidr", flat=True))
    for subnet in pool.subnets(new_prefix=24):
        if str(subnet) in taken:
            continue
        try:
            with transaction.atomic():
                return ProjectNetwork.objects.create(
                    project_id=project_id, cidr=str(subnet), gateway=str(subnet.network_address + 1)
                )
        except IntegrityError:
            # Another project took this subnet (or this project got one) at the same moment.
            existing = ProjectNetwork.objects.filter(project_id=project_id).first()
            if existing is not None:
                return existing
    raise NetworkExhausted(f"No free /24 left in the network pool {pool}.")


def allocate_address(network: ProjectNetwork) -> str:
    """The lowest free host address ≥ .10. Runs under the project lock of the launch; the
    unique constraint on (network, address) is the backstop."""
    subnet = ipaddress.ip_network(network.cidr)
    used = set(Instance.objects.alive().filter(network=network).values_list("address", flat=True))
    for offset in range(FIRST_HOST, subnet.num_addresses - 1):
        candidate = str(subnet.network_address + offset)
        if candidate not in used:
            return candidate
    raise NetworkExhausted(f"No free address left on network {network.cidr}.")


def new_mac() -> str:
    # fa:16:3e is the prefix Nova/Neutron use for instance ports: locally administered, unicast.
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
