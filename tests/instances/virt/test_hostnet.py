"""The host-side network primitives against the real kernel, ip, nft and dnsmasq.

Nothing here touches the host's own network: for each test, the test process itself enters a
fresh network namespace (the "host"), and guests are further namespaces plugged into our bridges
with veth pairs (a tap without a QEMU behind it carries no traffic). The fixture kills every
process left in those namespaces (dnsmasq daemons stay in the namespace they started in) and
deletes them, whatever the outcome.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from pathlib import Path

import pytest

from instances.virt.base import VirtError
from instances.virt.hostnet import HostNetwork, bridge_name, tap_name
from tests.support.netlab import (
    CLIENT,
    METADATA_PORT,
    NET_A,
    NET_B,
    PYTHON,
    UDHCPC_SCRIPT,
    UPLINK_HOST,
    UPLINK_OUTSIDE,
    Lab,
    connect_here,
    run,
)
from tests.support.processes import require


def dnsmasq_pids(lab: Lab) -> list[int]:
    """dnsmasq processes in the lab's host namespace (ip netns pids lists processes that may end)."""
    pids = []
    for pid in run("ip", "netns", "pids", lab.namespaces[0]).split():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "dnsmasq":
                pids.append(int(pid))
    return pids


def ruleset() -> str:
    return run("nft", "list", "ruleset")


def test_it_is_available_in_a_namespace_of_its_own(hostnet: HostNetwork) -> None:
    assert hostnet.available() is None
    assert not [n for n in run("ip", "-br", "link").split() if n.startswith("stbr-")]


def test_it_says_which_tool_is_missing(lab: Lab, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ip", "nft"):
        (bin_dir / tool).symlink_to(require(tool))
    reason = HostNetwork(tmp_path / "state", path=str(bin_dir)).available()
    assert reason is not None and "dnsmasq not installed" in reason


def test_a_guest_gets_its_fixed_address_by_dhcp(lab: Lab, hostnet: HostNetwork, tmp_path: Path) -> None:
    bridge = hostnet.ensure_network(*NET_A)
    one, two = ("fa:16:3e:00:00:01", "10.77.1.10", "vm-one"), ("fa:16:3e:00:00:02", "10.77.1.11", "vm-two")
    hostnet.set_hosts(NET_A[0], [two, one])
    guest = lab.guest("g1", bridge, "fa:16:3e:00:00:01")
    out, script = tmp_path / "lease", tmp_path / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT.format(out=out))
    script.chmod(0o755)
    argv = ["ip", "netns", "exec", guest, require("busybox"), "udhcpc", "-i", "eth0", "-n", "-q", "-f"]
    run(*argv, "-t", "10", "-T", "1", "-s", str(script))
    assert out.read_text().split() == ["10.77.1.10", "24", "10.77.1.1", "10.77.1.1"]
    assert "10.77.1.10/24" in run("ip", "-n", guest, "-br", "addr", "show", "eth0")
    # The same hosts again: dnsmasq is left alone; other hosts: it restarts; none: it stops.
    [pid] = dnsmasq_pids(lab)
    hostnet.set_hosts(NET_A[0], [one, two])
    assert dnsmasq_pids(lab) == [pid]
    hostnet.set_hosts(NET_A[0], [one])
    [restarted] = dnsmasq_pids(lab)
    assert restarted != pid
    assert "fa:16:3e:00:00:02" not in Path(f"/proc/{restarted}/cmdline").read_text()
    hostnet.set_hosts(NET_A[0], [])
    assert dnsmasq_pids(lab) == []


def test_guests_of_one_network_reach_each_other_but_not_another_network(
    lab: Lab, hostnet: HostNetwork
) -> None:
    bridge_a, bridge_b = hostnet.ensure_network(*NET_A), hostnet.ensure_network(*NET_B)
    g1 = lab.guest("g1", bridge_a, "fa:16:3e:00:00:01", "10.77.1.10", NET_A[2])
    g2 = lab.guest("g2", bridge_a, "fa:16:3e:00:00:02", "10.77.1.11", NET_A[2])
    g3 = lab.guest("g3", bridge_b, "fa:16:3e:00:00:03", "10.77.2.10", NET_B[2])
    lab.serve(g1, "g1", "0.0.0.0", 22)
    lab.serve(g3, "g3", "0.0.0.0", 22)
    assert lab.connect(g2, "10.77.1.10", 22) == "g1 sees 10.77.1.11"
    # Routed through the host, which drops traffic between networks both ways.
    assert lab.connect(g3, "10.77.1.10", 22, timeout=1) is None
    assert lab.connect(g2, "10.77.2.10", 22, timeout=1) is None
    for guest, gateway in ((g1, NET_A[2]), (g3, NET_B[2])):
        run("ip", "netns", "exec", guest, require("busybox"), "ping", "-c", "1", "-W", "2", gateway)


def test_guests_reach_the_outside_masqueraded_and_the_outside_cannot_reach_them(
    lab: Lab, hostnet: HostNetwork
) -> None:
    bridge = hostnet.ensure_network(*NET_A)
    g1 = lab.guest("g1", bridge, "fa:16:3e:00:00:01", "10.77.1.10", NET_A[2])
    outside = lab.outside()
    run("ip", "-n", outside, "route", "add", NET_A[1], "via", UPLINK_HOST)
    lab.serve(outside, "outside", "0.0.0.0", 8000)
    lab.serve(g1, "g1", "0.0.0.0", 22)
    assert lab.connect(g1, UPLINK_OUTSIDE, 8000) == f"outside sees {UPLINK_HOST}"
    # Even with a route to the guests, the outside only gets in through a port forward.
    assert lab.connect(outside, "10.77.1.10", 22, timeout=1) is None


def test_a_port_forward_reaches_the_guest_until_it_is_removed(lab: Lab, hostnet: HostNetwork) -> None:
    bridge = hostnet.ensure_network(*NET_A)
    g1 = lab.guest("g1", bridge, "fa:16:3e:00:00:01", "10.77.1.10", NET_A[2])
    g2 = lab.guest("g2", bridge, "fa:16:3e:00:00:02", "10.77.1.11", NET_A[2])
    outside = lab.outside()
    lab.serve(g1, "g1", "10.77.1.10", 22)
    hostnet.add_forward("127.0.0.1", 2222, "10.77.1.10", 22)
    hostnet.add_forward(UPLINK_HOST, 2222, "10.77.1.10", 22)
    hostnet.add_forward("0.0.0.0", 2223, "10.77.1.10", 22)

    assert connect_here("127.0.0.1", 2222) == f"g1 sees {NET_A[2]}"  # loopback source masqueraded
    assert connect_here(UPLINK_HOST, 2222) == f"g1 sees {UPLINK_HOST}"
    assert lab.connect(outside, UPLINK_HOST, 2222) == f"g1 sees {UPLINK_OUTSIDE}"
    assert lab.connect(outside, UPLINK_HOST, 2223) == f"g1 sees {UPLINK_OUTSIDE}"
    assert lab.connect(g2, UPLINK_HOST, 2222) == f"g1 sees {NET_A[2]}"  # hairpin
    assert sorted(f.host_port for f in HostNetwork(hostnet.state_dir).find_existing().forwards) == [
        2222,
        2222,
        2223,
    ]

    for bind, port in (("127.0.0.1", 2222), (UPLINK_HOST, 2222), ("0.0.0.0", 2223)):
        hostnet.remove_forward(bind, port)
    assert connect_here("127.0.0.1", 2222, timeout=1) is None
    assert lab.connect(outside, UPLINK_HOST, 2222, timeout=1) is None
    assert lab.connect(outside, UPLINK_HOST, 2223, timeout=1) is None
    assert HostNetwork(hostnet.state_dir).find_existing().forwards == []


def test_the_metadata_address_reaches_the_host_port_with_the_guests_own_source(
    lab: Lab, hostnet: HostNetwork
) -> None:
    bridge = hostnet.ensure_network(*NET_A)
    g1 = lab.guest("g1", bridge, "fa:16:3e:00:00:01", "10.77.1.10", NET_A[2])
    with socket.create_server((NET_A[2], METADATA_PORT)) as listener:
        listener.settimeout(10)
        argv = ["ip", "netns", "exec", g1, PYTHON, "-c", CLIENT, "169.254.169.254", "80", "5"]
        client = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        conn, peer = listener.accept()
        with conn:
            conn.sendall(b"metadata")
        assert client.communicate(timeout=10)[0].strip() == "metadata"
    assert peer[0] == "10.77.1.10"
    # Other host services stay out of the guests' reach.
    lab.serve(lab.namespaces[0], "host", NET_A[2], 8080)
    assert lab.connect(g1, NET_A[2], 8080, timeout=1) is None


def test_ports_are_taps_on_the_bridge(lab: Lab, hostnet: HostNetwork) -> None:
    bridge = hostnet.ensure_network(*NET_A)
    tap = hostnet.ensure_port(NET_A[0], "port-1", "fa:16:3e:12:34:56")
    assert tap == tap_name("port-1") and len(tap) <= 15
    assert hostnet.ensure_port(NET_A[0], "port-1", "fa:16:3e:12:34:56") == tap
    link = run("ip", "-d", "link", "show", tap)
    assert f"master {bridge}" in link and "tun type tap" in link and "fe:16:3e:12:34:56" in link
    [port] = hostnet.find_existing().ports
    assert (port.port_id, port.tap, port.bridge) == ("port-1", tap, bridge)
    hostnet.remove_port("port-1")
    hostnet.remove_port("port-1")
    assert hostnet.find_existing().ports == []
    with pytest.raises(VirtError, match="has no bridge"):
        hostnet.ensure_port("unknown", "port-2", "fa:16:3e:12:34:57")


def test_a_restarted_agent_finds_and_reuses_everything_then_cleans_it_up(
    lab: Lab, hostnet: HostNetwork
) -> None:
    bridge_a, bridge_b = hostnet.ensure_network(*NET_A), hostnet.ensure_network(*NET_B)
    hostnet.ensure_port(NET_A[0], "port-a", "fa:16:3e:00:00:01")
    hostnet.ensure_port(NET_B[0], "port-b", "fa:16:3e:00:00:02")
    for net_id, address in ((NET_A[0], "10.77.1.10"), (NET_B[0], "10.77.2.10")):
        hostnet.set_hosts(net_id, [("fa:16:3e:00:00:01", address, "vm")])
    hostnet.add_forward("127.0.0.1", 2222, "10.77.1.10", 22)
    before, pids = ruleset(), sorted(dnsmasq_pids(lab))

    restarted = HostNetwork(hostnet.state_dir, metadata_port=METADATA_PORT)
    state = restarted.find_existing()
    assert [(n.net_id, n.bridge, n.cidr, n.gateway) for n in state.networks] == sorted(
        [(NET_A[0], bridge_a, NET_A[1], NET_A[2]), (NET_B[0], bridge_b, NET_B[1], NET_B[2])],
        key=lambda n: n[1],
    )
    assert sorted(n.dnsmasq_pid for n in state.networks) == pids
    assert sorted((p.port_id, p.bridge) for p in state.ports) == [("port-a", bridge_a), ("port-b", bridge_b)]
    assert restarted.ensure_network(*NET_A) == bridge_a
    restarted.set_hosts(NET_A[0], [("fa:16:3e:00:00:01", "10.77.1.10", "vm")])
    assert ruleset() == before and sorted(dnsmasq_pids(lab)) == pids

    restarted.remove_network(NET_A[0])
    state = restarted.find_existing()
    assert [n.bridge for n in state.networks] == [bridge_b] and state.networks[0].dnsmasq_pid in pids
    assert bridge_a not in ruleset() and bridge_b in ruleset() and NET_B[1] in ruleset()
    assert NET_A[1] not in ruleset()

    restarted.cleanup_all()
    links = run("ip", "-br", "link")
    assert "stbr-" not in links and "sttap-" not in links
    assert "stratus" not in run("nft", "list", "tables")
    assert dnsmasq_pids(lab) == [] and not list((hostnet.state_dir / "dnsmasq").glob("*.pid"))
    restarted.cleanup_all()  # nothing left to do is no error


def test_bad_input_is_refused(hostnet: HostNetwork) -> None:
    with pytest.raises(VirtError, match="host address"):
        hostnet.ensure_network("x", "10.77.1.0/24", "10.77.2.1")
    with pytest.raises(VirtError, match="IPv4"):
        hostnet.ensure_network("x", "fd00::/64", "fd00::1")
    hostnet.ensure_network(*NET_A)
    with pytest.raises(VirtError, match="not a free host address"):
        hostnet.set_hosts(NET_A[0], [("fa:16:3e:00:00:01", NET_A[2], "vm")])
    with pytest.raises(VirtError, match="DNS label"):
        hostnet.set_hosts(NET_A[0], [("fa:16:3e:00:00:01", "10.77.1.10", "my vm")])
    assert len(bridge_name(NET_A[0])) == len(tap_name("port")) - 1 == 13
