"""The host-side network primitives against the real kernel, ip, nft and dnsmasq.

Nothing here touches the host's own network: for each test, the test process itself enters a
fresh network namespace (the "host"), and guests are further namespaces plugged into our bridges
with veth pairs (a tap without a QEMU behind it carries no traffic). The fixture kills every
process left in those namespaces (dnsmasq daemons stay in the namespace they started in) and
deletes them, whatever the outcome.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from instances.virt.base import VirtError
from instances.virt.hostnet import HostNetwork, bridge_name, tap_name
from tests.support.processes import require
from tests.support.wait import wait_for

CLONE_NEWNET = 0x40000000
PYTHON = sys.executable
NET_A = ("project-a", "10.77.1.0/24", "10.77.1.1")
NET_B = ("project-b", "10.77.2.0/24", "10.77.2.1")
UPLINK_HOST, UPLINK_OUTSIDE = "198.51.100.1", "198.51.100.2"  # the host's "public" side
METADATA_PORT = 8775

# A TCP server that answers each connection with who it is and whom it sees, then closes it.
SERVER = """
import socket, sys
name, address, port, ready = sys.argv[1:5]
listener = socket.create_server((address, int(port)))
open(ready, "w").close()
while True:
    conn, peer = listener.accept()
    conn.sendall(f"{name} sees {peer[0]}".encode())
    conn.close()
"""
# Connect, print what the server says; exit 1 when the connection fails.
CLIENT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
        print(s.recv(200).decode())
except OSError as exc:
    print(exc)
    sys.exit(1)
"""
# udhcpc calls this with the lease in its environment; it applies and records it.
UDHCPC_SCRIPT = """#!/bin/sh
if [ "$1" = bound ]; then
    ip addr add "$ip/$mask" dev "$interface"
    echo "$ip $mask $router $dns" > "{out}"
fi
"""


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return result.stdout


@dataclass
class Lab:
    """Named network namespaces of one test: the host (the test process is inside it) and guests."""

    tag: str
    tmp: Path
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def namespace(self, role: str) -> str:
        name = f"stratus-test-{self.tag}-{role}"
        _run("ip", "netns", "add", name)
        self.namespaces.append(name)
        _run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def guest(self, role: str, bridge: str, mac: str, address: str | None = None, gateway: str = "") -> str:
        """A guest namespace whose eth0 is plugged into ``bridge``; with ``address``, configured
        statically with a default route through ``gateway``."""
        ns = self.namespace(role)
        port = f"v{self.tag}{role}"[:15]
        _run("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "link", "set", port, "master", bridge, "up")
        _run("ip", "-n", ns, "link", "set", "eth0", "address", mac, "up")
        if address:
            _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _run("ip", "-n", ns, "route", "add", "default", "via", gateway)
        return ns

    def outside(self) -> str:
        """A machine on the host's uplink, which has no route to the guest networks."""
        ns = self.namespace("outside")
        _run("ip", "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "addr", "add", f"{UPLINK_HOST}/24", "dev", "uplink")
        _run("ip", "link", "set", "uplink", "up")
        _run("ip", "-n", ns, "addr", "add", f"{UPLINK_OUTSIDE}/24", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "eth0", "up")
        return ns

    def serve(self, ns: str, name: str, address: str, port: int) -> None:
        ready = self.tmp / f"ready-{name}-{port}"
        argv = ["ip", "netns", "exec", ns, PYTHON, "-c", SERVER, name, address, str(port), str(ready)]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.processes.append(process)
        wait_for(lambda: process.poll() is None and ready.exists(), timeout=10, what=f"{name}'s server")

    def connect(self, ns: str, address: str, port: int, timeout: float = 3.0) -> str | None:
        """What the server says to a client in ``ns``, or None when the connection fails."""
        argv = ["ip", "netns", "exec", ns, PYTHON, "-c", CLIENT, address, str(port), str(timeout)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def destroy(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait(10)
        for ns in self.namespaces:
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
            for pid in map(int, pids.stdout.split()):
                if pid != os.getpid():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def connect_here(address: str, port: int, timeout: float = 3.0) -> str | None:
    """The same client, from the test process (which sits in the host namespace)."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            return s.recv(200).decode()
    except OSError:
        return None


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    for tool in ("ip", "nft", "dnsmasq", "busybox"):
        require(tool)
    lab = Lab(tag=secrets.token_hex(2), tmp=tmp_path)
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        host = lab.namespace("host")
        with open(f"/run/netns/{host}") as handle:
            _setns(handle.fileno())
        yield lab
    finally:
        _setns(original)
        os.close(original)
        lab.destroy()


@pytest.fixture
def hostnet(lab: Lab, tmp_path: Path) -> HostNetwork:
    return HostNetwork(tmp_path / "state", metadata_port=METADATA_PORT)


def dnsmasq_pids(lab: Lab) -> list[int]:
    """dnsmasq processes in the lab's host namespace (ip netns pids lists processes that may end)."""
    pids = []
    for pid in _run("ip", "netns", "pids", lab.namespaces[0]).split():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "dnsmasq":
                pids.append(int(pid))
    return pids


def ruleset() -> str:
    return _run("nft", "list", "ruleset")


def test_it_is_available_in_a_namespace_of_its_own(hostnet: HostNetwork) -> None:
    assert hostnet.available() is None
    assert not [n for n in _run("ip", "-br", "link").split() if n.startswith("stbr-")]


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
    _run(*argv, "-t", "10", "-T", "1", "-s", str(script))
    assert out.read_text().split() == ["10.77.1.10", "24", "10.77.1.1", "10.77.1.1"]
    assert "10.77.1.10/24" in _run("ip", "-n", guest, "-br", "addr", "show", "eth0")
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
        _run("ip", "netns", "exec", guest, require("busybox"), "ping", "-c", "1", "-W", "2", gateway)


def test_guests_reach_the_outside_masqueraded_and_the_outside_cannot_reach_them(
    lab: Lab, hostnet: HostNetwork
) -> None:
    bridge = hostnet.ensure_network(*NET_A)
    g1 = lab.guest("g1", bridge, "fa:16:3e:00:00:01", "10.77.1.10", NET_A[2])
    outside = lab.outside()
    _run("ip", "-n", outside, "route", "add", NET_A[1], "via", UPLINK_HOST)
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
    link = _run("ip", "-d", "link", "show", tap)
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
    links = _run("ip", "-br", "link")
    assert "stbr-" not in links and "sttap-" not in links
    assert "stratus" not in _run("nft", "list", "tables")
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
