"""Real Linux guests under QEMU on the host's bridges: each gets its fixed address from our dnsmasq,
guests of one network reach each other, and a guest of another network cannot reach them.

The host is a throwaway network namespace (the ``lab`` fixture); the guests are the Linux test guest
(tests/support/linuxguest.py) booted by the QEMU driver with a tap NIC, under TCG.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from instances.virt.base import GuestSpec, NetworkSpec
from instances.virt.hostnet import HostNetwork
from instances.virt.qemu import QemuDriver
from tests.plugin import TEST_ROOT
from tests.support.linuxguest import BASE_CMDLINE, build_guest, console_fields, console_lines, guest_cmdline
from tests.support.netlab import NET_A, NET_B, Lab
from tests.support.processes import require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


@dataclass(frozen=True)
class Guest:
    name: str
    network: tuple[str, str, str]
    address: str
    mac: str
    uuid: str
    token: str


def spec_for(guest: Guest, hostnet: HostNetwork, peers: tuple[str, ...] = ()) -> GuestSpec:
    net_id, cidr, gateway = guest.network
    tap = hostnet.ensure_port(net_id, guest.uuid, guest.mac)
    built = build_guest(TEST_ROOT / "linux-guest")
    options = guest_cmdline(marker=guest.name.upper(), hostname=guest.name, token=guest.token, peers=peers,
                            peer_wait=10)  # fmt: skip
    return GuestSpec(
        uuid=guest.uuid,
        name=guest.name,
        vcpus=1,
        memory_mb=256,
        network=NetworkSpec(cidr, guest.address, gateway, guest.mac, tap=tap),
        kernel=str(built.kernel),
        ramdisk=str(built.initrd),
        cmdline=f"{BASE_CMDLINE} {options}",
    )


def said(driver: QemuDriver, guest: Guest, prefix: str) -> str | None:
    """The guest's first console line that starts with ``prefix`` (after its marker), if any."""
    for line in console_lines(driver.console_output(guest.uuid, None), guest.name.upper()):
        if line.startswith(prefix):
            return line
    return None


def test_guests_get_their_addresses_by_dhcp_and_reach_only_their_own_network(
    lab: Lab, hostnet: HostNetwork, tmp_path: Path
) -> None:
    require("qemu-system-x86_64")
    driver = QemuDriver(tmp_path / "guests", accel="tcg")

    def guest(name: str, network: tuple[str, str, str], address: str, mac: str) -> Guest:
        return Guest(name, network, address, mac, str(uuid.uuid4()), secrets.token_hex(4))

    web = guest("web", NET_A, "10.77.1.10", "fa:16:3e:00:0a:01")
    app = guest("app", NET_A, "10.77.1.11", "fa:16:3e:00:0a:02")
    other = guest("other", NET_B, "10.77.2.10", "fa:16:3e:00:0b:01")
    for network, members in ((NET_A, (web, app)), (NET_B, (other,))):
        hostnet.ensure_network(*network)
        hostnet.set_hosts(network[0], [(g.mac, g.address, g.name) for g in members])
    specs = [spec_for(web, hostnet), spec_for(app, hostnet, peers=(web.address,)),
             spec_for(other, hostnet, peers=(web.address,))]  # fmt: skip
    try:
        for spec in specs:
            driver.spawn(spec)
        for g in (web, app, other):
            line = wait_for(lambda g=g: said(driver, g, "ip="), timeout=120, what=f"{g.name}'s DHCP lease")
            fields = console_fields(line)
            assert fields["ip"] == f"{g.address}/24", line
            assert fields["gw"] == g.network[2] and fields["mac"] == g.mac, line
        reached = wait_for(lambda: said(driver, app, f"peer {web.address} "), timeout=60, what="app → web")
        assert reached.startswith(f"peer {web.address} ok") and f"token={web.token}" in reached, reached
        refused = wait_for(
            lambda: said(driver, other, f"peer {web.address} "), timeout=60, what="other → web"
        )
        assert refused == f"peer {web.address} unreachable", refused
    finally:
        for spec in specs:
            driver.destroy(spec.uuid)
    assert driver.list_running() == []
