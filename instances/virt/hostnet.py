"""Host-side networking of guests, as Nova + Neutron's Linux bridge agent and DHCP agent do it.

Each project network is a Linux bridge on the compute host carrying the network's gateway
address; each instance port is a tap device on its network's bridge (QEMU opens it with
``-netdev tap,ifname=…,script=no,downscript=no``); a dnsmasq per bridge hands out the fixed
addresses from static host entries; one nftables table isolates the networks from each other
and from the host, masquerades their outbound traffic, sends the metadata address to a host port
and implements port forwards. This module knows no Django models: ids, addresses and MACs in,
Linux objects out.

Everything is named after Stratus so that a restarted agent finds it again and cleanup misses
nothing: bridges ``stbr-<8 hex>`` and taps ``sttap-<8 hex>`` (a hash of the network or port id;
Linux names have at most 15 characters), one table ``inet stratus``, and dnsmasq processes
whose pid files lie in ``<state_dir>/dnsmasq/``. The kernel itself keeps what a restart needs:
each bridge's and tap's interface alias holds its ids and addresses as JSON.

The rule set is fixed; networks and forwards are *elements* of its named sets and maps, each
element commented with the bridge that owns it (or ``forward``). Adding a network adds
elements, removing it deletes the elements carrying its bridge's name, and no rule is ever
edited, so there are no rule handles to track and no duplicate rules after a restart:

* ``forward``: traffic into any Stratus bridge passes only if it stays within that bridge, answers
  a connection (established/related) or was sent there by a DNAT (port forward). So two networks
  cannot reach each other, and nothing outside reaches a guest uninvited. Traffic within one
  bridge is switched, not routed, but where br_netfilter is loaded (Docker loads it) the kernel
  shows switched IPv4 frames to this hook with the bridge as input and output device: the
  ``intra`` set of "bridge . bridge" pairs lets them pass.
* ``input``: guests reach the host only for DHCP, DNS, ping and their metadata endpoint.
* ``prerouting``/``output`` nat: 169.254.169.254:80 from a bridge is DNATed to its gateway's
  metadata port (so the metadata service sees the guest's own address); port forwards are a map
  from bind address . port (or port alone for 0.0.0.0) to guest address . port, looked up for
  packets to a local address, from outside (prerouting) or from the host itself (output).
* ``postrouting`` nat: masquerade of a network's traffic leaving by a non-Stratus interface;
  masquerade of forwarded connections that come from a loopback address (a 127.0.0.1 bind) or
  from a guest (hairpin), so that the guest's reply comes back through the host.

Bridges have ``route_localnet`` on (a connection to a 127.0.0.1 forward leaves the host with a
loopback source, which the kernel otherwise refuses to route out); a raw-priority guard drops
loopback addresses arriving from guests, so that setting opens nothing to them.

Every method is idempotent and serialised by a lock file in the state dir (agent threads and a
second agent process alike). Failures raise ``VirtError`` with the command and its stderr.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instances.virt.base import MAC_RE, VirtError

log = logging.getLogger(__name__)

BRIDGE_PREFIX = "stbr-"
TAP_PREFIX = "sttap-"
FAMILY, TABLE = "inet", "stratus"
METADATA_ADDRESS = "169.254.169.254"
FORWARD_OWNER = "forward"  # the comment on port forward elements
RULESET_VERSION = "ruleset_v1"  # an empty set of that name marks the table's layout
LEASE_TIME = "24h"
COMMAND_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
POLL_INTERVAL = 0.02
CAP_NET_ADMIN = 12
# Where Debian keeps ip, nft and dnsmasq; often missing from a service's PATH.
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

RULESET = f"""
table {FAMILY} {TABLE} {{
    set {RULESET_VERSION} {{ type ipv4_addr; }}
    map metadata {{ type ifname : ipv4_addr . inet_service; }}
    set metadata_endpoints {{ type ifname . ipv4_addr . inet_service; }}
    set intra {{ type ifname . ifname; }}
    set networks {{ type ipv4_addr; flags interval; }}
    set masquerade_networks {{ type ipv4_addr; flags interval; }}
    map forwards {{ type ipv4_addr . inet_service : ipv4_addr . inet_service; }}
    map forwards_any {{ type inet_service : ipv4_addr . inet_service; }}

    chain guard {{
        type filter hook prerouting priority raw; policy accept;
        iifname "{BRIDGE_PREFIX}*" ip saddr 127.0.0.0/8 drop
        iifname "{BRIDGE_PREFIX}*" ip daddr 127.0.0.0/8 drop
    }}
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "{BRIDGE_PREFIX}*" ip daddr {METADATA_ADDRESS} tcp dport 80 \\
            dnat ip addr . port to iifname map @metadata
        fib daddr type local dnat ip addr . port to ip daddr . tcp dport map @forwards
        fib daddr type local dnat ip addr . port to tcp dport map @forwards_any
    }}
    chain output {{
        type nat hook output priority -100; policy accept;
        fib daddr type local dnat ip addr . port to ip daddr . tcp dport map @forwards
        fib daddr type local dnat ip addr . port to tcp dport map @forwards_any
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{BRIDGE_PREFIX}*" ct status dnat ip saddr 127.0.0.0/8 masquerade
        oifname "{BRIDGE_PREFIX}*" ct status dnat ip saddr @networks masquerade
        oifname != "{BRIDGE_PREFIX}*" ip saddr @masquerade_networks masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        oifname "{BRIDGE_PREFIX}*" jump to_guests
    }}
    chain to_guests {{
        iifname . oifname @intra accept
        ct state established,related accept
        ct status dnat accept
        drop
    }}
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "{BRIDGE_PREFIX}*" jump from_guests
    }}
    chain from_guests {{
        ct state established,related accept
        udp dport 67 accept
        meta l4proto {{ tcp, udp }} th dport 53 accept
        icmp type echo-request accept
        iifname . ip daddr . tcp dport @metadata_endpoints accept
        drop
    }}
}}
"""


def bridge_name(net_id: str) -> str:
    return BRIDGE_PREFIX + hashlib.sha256(net_id.encode()).hexdigest()[:8]


def tap_name(port_id: str) -> str:
    return TAP_PREFIX + hashlib.sha256(port_id.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class HostEntry:
    """One static DHCP host: the instance's MAC, fixed address and (optional) host name."""

    mac: str
    address: str
    hostname: str = ""

    def option(self) -> str:
        return ",".join(v for v in (self.mac, self.address, self.hostname) if v)


@dataclass(frozen=True)
class ExistingNetwork:
    net_id: str  # "" for a stbr-* bridge without our alias (a half-made one, or a probe)
    bridge: str
    cidr: str
    gateway: str
    dnsmasq_pid: int | None


@dataclass(frozen=True)
class ExistingPort:
    port_id: str
    tap: str
    bridge: str | None  # None when detached


@dataclass(frozen=True)
class Forward:
    bind_address: str
    host_port: int
    guest_address: str
    guest_port: int


@dataclass(frozen=True)
class HostState:
    """What a (restarted) agent finds on the host: enough to adopt it or clean it up."""

    networks: list[ExistingNetwork]
    ports: list[ExistingPort]
    forwards: list[Forward]
    table: bool


class HostNetwork:
    """The host-side primitives. ``path`` is where ip, nft and dnsmasq are looked up (default:
    $PATH plus the sbin directories), so a host without one of them can be described honestly."""

    def __init__(
        self,
        state_dir: str | Path,
        *,
        masquerade: bool = True,
        metadata_port: int | None = None,
        dns: bool = True,
        path: str | None = None,
    ):
        if metadata_port is not None and not 0 < metadata_port < 65536:
            raise VirtError(f"metadata port {metadata_port} is not a TCP port")
        self.state_dir = Path(state_dir).absolute()  # dnsmasq's command line names its pid file
        self.masquerade = masquerade
        self.metadata_port = metadata_port
        self.dns = dns
        self.path = path if path is not None else f"{os.environ.get('PATH', '')}:{SBIN_PATH}"

    # -- host ------------------------------------------------------------------------------------

    def available(self) -> str | None:
        """None when this host can manage guest networks, else why not (for the log and the
        message of the fallback to user networking)."""
        if os.geteuid() != 0 and not _has_cap_net_admin():
            return "the compute agent is neither root nor has CAP_NET_ADMIN"
        missing = [name for name in ("ip", "nft", "dnsmasq") if shutil.which(name, path=self.path) is None]
        if missing:
            return f"{', '.join(missing)} not installed (Debian: apt install iproute2 nftables dnsmasq-base)"
        probe = f"{BRIDGE_PREFIX}probe{secrets.token_hex(2)}"
        try:
            self._run("ip", "link", "add", probe, "type", "bridge")
            self._run("ip", "link", "del", probe)
            # A dry run of the whole rule set: nat, fib and concatenated maps must all load.
            self._run("nft", "--check", "-f", "-", input=RULESET)
        except VirtError as exc:
            return str(exc)
        return None

    # -- networks --------------------------------------------------------------------------------

    def ensure_network(self, net_id: str, cidr: str, gateway: str) -> str:
        """The network's bridge, up with the gateway address, and its nftables elements.
        Returns the bridge name."""
        net, gw = _parse_network(cidr, gateway)
        bridge = bridge_name(net_id)
        with self._locked():
            self._ensure_table()
            links = self._links()
            if bridge not in links:
                self._run("ip", "link", "add", bridge, "address", _bridge_mac(net_id), "type", "bridge")
            alias = _alias(net=net_id, cidr=str(net), gw=str(gw))
            self._run("ip", "link", "set", "dev", bridge, "alias", alias)
            wanted = f"{gw}/{net.prefixlen}"
            for address in self._addresses(bridge):
                if address != wanted:
                    self._run("ip", "addr", "del", address, "dev", bridge)
            self._run("ip", "addr", "replace", wanted, "dev", bridge)
            _sysctl(f"net/ipv4/conf/{bridge}/route_localnet", "1")
            # The host gets no IPv6 address on a guest network, so IPv6 cannot reach it either.
            _sysctl(f"net/ipv6/conf/{bridge}/disable_ipv6", "1", optional=True)
            self._run("ip", "link", "set", "dev", bridge, "up")
            if self.masquerade:
                _sysctl("net/ipv4/ip_forward", "1")
            self._sync_elements(bridge, self._network_elements(bridge, net, gw))
        log.info("network %s is bridge %s with %s/%s", net_id, bridge, gw, net.prefixlen)
        return bridge

    def remove_network(self, net_id: str) -> None:
        """Stop the network's dnsmasq, delete its bridge and its nftables elements. Taps stay
        (detached) until ``remove_port``: a running QEMU may still hold one."""
        bridge = bridge_name(net_id)
        with self._locked():
            self._stop_dnsmasq(bridge, forget=True)
            if bridge in self._links():
                self._run("ip", "link", "del", bridge)
            if self._table_exists():
                self._sync_elements(bridge, {})
        log.info("network %s (bridge %s) removed", net_id, bridge)

    # -- ports -----------------------------------------------------------------------------------

    def ensure_port(self, net_id: str, port_id: str, mac: str) -> str:
        """A tap on the network's bridge, up; returns its name. The tap's own MAC is the guest's
        with a first byte of fe (as Nova does), so it never collides with the guest's."""
        if not MAC_RE.match(mac):
            raise VirtError(f"MAC address {mac!r} must be lower-case xx:xx:xx:xx:xx:xx")
        bridge, tap = bridge_name(net_id), tap_name(port_id)
        with self._locked():
            links = self._links()
            if bridge not in links:
                raise VirtError(f"network {net_id} has no bridge ({bridge}) on this host")
            if tap not in links:
                self._run("ip", "tuntap", "add", "dev", tap, "mode", "tap")
            self._run("ip", "link", "set", "dev", tap, "address", "fe" + mac[2:])
            self._run("ip", "link", "set", "dev", tap, "alias", _alias(port=port_id, net=net_id))
            self._run("ip", "link", "set", "dev", tap, "master", bridge, "up")
        return tap

    def remove_port(self, port_id: str) -> None:
        tap = tap_name(port_id)
        with self._locked():
            if tap in self._links():
                self._run("ip", "link", "del", tap)

    # -- DHCP ------------------------------------------------------------------------------------

    def set_hosts(self, net_id: str, entries: list[tuple[str, str, str]] | list[HostEntry]) -> None:
        """Serve exactly these (mac, address, hostname) leases on the network; none stops dnsmasq.

        The hosts go on dnsmasq's command line and a change restarts it: dnsmasq reads host
        files after dropping to ``nobody``, who may not traverse the state dir, and a restart
        also forgets the lease of a removed host whose address goes to a new MAC. Leases are
        static and dnsmasq is authoritative, so guests keep their addresses across a restart."""
        hosts = sorted((e if isinstance(e, HostEntry) else HostEntry(*e) for e in entries), key=_address_key)
        bridge = bridge_name(net_id)
        with self._locked():
            network = next((n for n in self._networks() if n.bridge == bridge), None)
            if network is None or not network.cidr:
                raise VirtError(f"network {net_id} has no bridge ({bridge}) on this host")
            net = ipaddress.ip_network(network.cidr)
            for host in hosts:
                _check_host(host, net, network.gateway)
            if not hosts:
                self._stop_dnsmasq(bridge, forget=True)
                return
            argv = self._dnsmasq_argv(bridge, net, network.gateway, hosts)
            pid = self._dnsmasq_pid(bridge)
            if pid is not None and _cmdline(pid)[1:] == argv[1:]:
                return
            self._stop_dnsmasq(bridge)
            self._run(*argv)  # dnsmasq returns once its daemon runs, or fails with the reason
        log.info("dnsmasq on %s serves %d host(s)", bridge, len(hosts))

    # -- port forwards ---------------------------------------------------------------------------

    def add_forward(
        self, bind_address: str, host_port: int, guest_address: str, guest_port: int = 22
    ) -> None:
        """DNAT of TCP bind_address:host_port to guest_address:guest_port, from other hosts and
        from this one; a bind address of 0.0.0.0 means every local address. Replaces an existing
        forward of the same bind address and port. Turns net.ipv4.ip_forward on: a connection
        from another host is routed on to the guest."""
        forward = _check_forward(bind_address, host_port, guest_address, guest_port)
        with self._locked():
            self._ensure_table()
            _sysctl("net/ipv4/ip_forward", "1")  # a forward from outside is routed to the guest
            name, key = _forward_key(forward)
            value = f"{forward.guest_address} . {forward.guest_port}"
            current = self._elements().get(name, {})
            if current.get(key) == (FORWARD_OWNER, value):
                return
            batch = [f"delete element {FAMILY} {TABLE} {name} {{ {key} }}"] if key in current else []
            batch.append(
                f'add element {FAMILY} {TABLE} {name} {{ {key} comment "{FORWARD_OWNER}" : {value} }}'
            )
            self._run("nft", "-f", "-", input="\n".join(batch) + "\n")

    def remove_forward(self, bind_address: str, host_port: int) -> None:
        forward = _check_forward(bind_address, host_port, "0.0.0.0", 1)
        with self._locked():
            if not self._table_exists():
                return
            name, key = _forward_key(forward)
            if key in self._elements().get(name, {}):
                self._run("nft", "delete", "element", FAMILY, TABLE, name, f"{{ {key} }}")

    # -- restart and shutdown --------------------------------------------------------------------

    def find_existing(self) -> HostState:
        """Bridges, taps, forwards and dnsmasq processes present now, e.g. after an agent restart."""
        with self._locked():
            forwards = []
            table = self._table_exists()
            if table:
                elements = self._elements()
                for name in ("forwards", "forwards_any"):
                    for key, (_owner, value) in elements.get(name, {}).items():
                        bind, _, port = key.rpartition(" . ") if " . " in key else ("0.0.0.0", "", key)
                        guest, _, guest_port = value.partition(" . ")
                        forwards.append(Forward(bind, int(port), guest, int(guest_port)))
            return HostState(self._networks(), self._ports(), forwards, table)

    def cleanup_all(self) -> None:
        """Remove every Stratus bridge and tap, the Stratus table and every dnsmasq with a pid
        file in the state dir. Sysctls (ip_forward) stay as they are: others may rely on them."""
        with self._locked():
            for pidfile in sorted(self._dnsmasq_dir().glob("*.pid")):
                self._stop_dnsmasq(pidfile.stem, forget=True)
            for name in self._links():
                if name.startswith((BRIDGE_PREFIX, TAP_PREFIX)):
                    self._run("ip", "link", "del", name)
            if self._table_exists():
                self._run("nft", "delete", "table", FAMILY, TABLE)
        log.info("removed all Stratus bridges, taps, nftables rules and dnsmasq processes")

    # -- commands --------------------------------------------------------------------------------

    def _run(self, tool: str, *args: str, input: str | None = None) -> str:
        binary = shutil.which(tool, path=self.path)
        if binary is None:
            raise VirtError(f"`{tool}` is not installed on this host")
        argv = [binary, *args]
        try:
            result = subprocess.run(
                argv, input=input, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise VirtError(f"`{' '.join(argv)}` did not finish in {COMMAND_TIMEOUT:g}s") from exc
        if result.returncode != 0:
            error = result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}"
            raise VirtError(f"`{' '.join(argv)}` failed: {error}")
        return result.stdout

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "hostnet.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- links -----------------------------------------------------------------------------------

    def _links(self) -> dict[str, dict[str, Any]]:
        return {link["ifname"]: link for link in json.loads(self._run("ip", "-j", "-d", "link", "show"))}

    def _addresses(self, device: str) -> list[str]:
        data = json.loads(self._run("ip", "-j", "-4", "addr", "show", "dev", device))
        return [f"{a['local']}/{a['prefixlen']}" for link in data for a in link.get("addr_info", [])]

    def _networks(self) -> list[ExistingNetwork]:
        networks = []
        for name, link in sorted(self._links().items()):
            if name.startswith(BRIDGE_PREFIX):
                alias = _parse_alias(link)
                networks.append(
                    ExistingNetwork(
                        alias.get("net", ""),
                        name,
                        alias.get("cidr", ""),
                        alias.get("gw", ""),
                        self._dnsmasq_pid(name),
                    )
                )
        return networks

    def _ports(self) -> list[ExistingPort]:
        return [
            ExistingPort(_parse_alias(link).get("port", ""), name, link.get("master"))
            for name, link in sorted(self._links().items())
            if name.startswith(TAP_PREFIX)
        ]

    # -- nftables --------------------------------------------------------------------------------

    def _table_exists(self) -> bool:
        tables = json.loads(self._run("nft", "-j", "list", "tables"))["nftables"]
        return any(t.get("table", {}).get("name") == TABLE and t["table"]["family"] == FAMILY for t in tables)

    def _ensure_table(self) -> None:
        """Load the rule set once; a table of an older layout is replaced (its elements go with
        it, and the agent's next ensure_network/add_forward calls put them back)."""
        if self._table_exists():
            if RULESET_VERSION in self._elements():
                return
            log.warning("replacing the nftables table %s %s of an older layout", FAMILY, TABLE)
            self._run("nft", "delete", "table", FAMILY, TABLE)
        self._run("nft", "-f", "-", input=RULESET)

    def _elements(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Every named set and map of the table: key → (owner comment, value), in nft syntax."""
        data = json.loads(self._run("nft", "-j", "list", "table", FAMILY, TABLE))["nftables"]
        result: dict[str, dict[str, tuple[str, str]]] = {}
        for item in data:
            obj = item.get("set") or item.get("map")
            if obj is None:
                continue
            key_types = obj["type"] if isinstance(obj["type"], list) else [obj["type"]]
            entries: dict[str, tuple[str, str]] = {}
            for elem in obj.get("elem", []):
                key, value = (elem[0], elem[1]) if "map" in obj else (elem, None)
                comment = ""
                if isinstance(key, dict) and "elem" in key:
                    comment, key = key["elem"].get("comment", ""), key["elem"]["val"]
                data = "" if value is None else _nft_value(value, [])
                entries[_nft_value(key, key_types)] = (comment, data)
            result[obj["name"]] = entries
        return result

    def _network_elements(
        self, bridge: str, net: ipaddress.IPv4Network, gw: ipaddress.IPv4Address
    ) -> dict[str, dict[str, str]]:
        wanted: dict[str, dict[str, str]] = {
            "networks": {str(net): ""},
            "intra": {f'"{bridge}" . "{bridge}"': ""},
        }
        if self.masquerade:
            wanted["masquerade_networks"] = {str(net): ""}
        if self.metadata_port is not None:
            wanted["metadata"] = {f'"{bridge}"': f"{gw} . {self.metadata_port}"}
            wanted["metadata_endpoints"] = {f'"{bridge}" . {gw} . {self.metadata_port}': ""}
        return wanted

    def _sync_elements(self, owner: str, wanted: dict[str, dict[str, str]]) -> None:
        """Make the elements commented ``owner`` exactly ``wanted`` (set/map → key → value), in
        one atomic nft batch; keys held by another owner are taken over."""
        current = self._elements()
        batch = []
        for name, entries in current.items():
            for key, (comment, value) in entries.items():
                keep = wanted.get(name, {}).get(key)
                if (comment == owner and keep != value) or (keep is not None and comment != owner):
                    batch.append(f"delete element {FAMILY} {TABLE} {name} {{ {key} }}")
        for name, entries in wanted.items():
            for key, value in entries.items():
                if current.get(name, {}).get(key) != (owner, value):
                    data = f" : {value}" if value else ""
                    batch.append(f'add element {FAMILY} {TABLE} {name} {{ {key} comment "{owner}"{data} }}')
        if batch:
            self._run("nft", "-f", "-", input="\n".join(batch) + "\n")

    # -- dnsmasq ---------------------------------------------------------------------------------

    def _dnsmasq_dir(self) -> Path:
        return self.state_dir / "dnsmasq"

    def _dnsmasq_argv(
        self, bridge: str, net: ipaddress.IPv4Network, gateway: str, hosts: list[HostEntry]
    ) -> list[str]:
        directory = self._dnsmasq_dir()
        directory.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("dnsmasq", path=self.path)
        if binary is None:
            raise VirtError("`dnsmasq` is not installed on this host (Debian: apt install dnsmasq-base)")
        argv = [
            binary, "--conf-file=/dev/null", "--no-hosts",
            "--bind-interfaces", f"--interface={bridge}", "--except-interface=lo",
            f"--dhcp-range={net.network_address},static,{net.netmask},{LEASE_TIME}",
            f"--dhcp-option=option:router,{gateway}",
            "--dhcp-authoritative", "--leasefile-ro",
            f"--pid-file={directory / f'{bridge}.pid'}",
            f"--log-facility={directory / f'{bridge}.log'}", "--log-dhcp",
        ]  # fmt: skip
        if self.dns:
            # Guests resolve through the host's own resolvers (/etc/resolv.conf, re-read on change).
            argv += [f"--dhcp-option=option:dns-server,{gateway}", "--domain-needed", "--bogus-priv"]
        else:
            argv += ["--port=0", "--no-resolv"]
        return argv + [f"--dhcp-host={host.option()}" for host in hosts]

    def _dnsmasq_pid(self, bridge: str) -> int | None:
        """The pid in the bridge's pid file, if that process is still our dnsmasq (a pid is
        trusted only when its command line names this pid file)."""
        pidfile = self._dnsmasq_dir() / f"{bridge}.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        cmdline = _cmdline(pid)
        if cmdline and f"--pid-file={pidfile}" in cmdline and _alive(pid):
            return pid
        return None

    def _stop_dnsmasq(self, bridge: str, *, forget: bool = False) -> None:
        """Stop the bridge's dnsmasq; ``forget`` also deletes its log (the network is going)."""
        pid = self._dnsmasq_pid(bridge)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while _alive(pid):
                if time.monotonic() > deadline:
                    log.warning("dnsmasq %d of %s ignored SIGTERM; killing it", pid, bridge)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    deadline = time.monotonic() + STOP_TIMEOUT
                time.sleep(POLL_INTERVAL)
        (self._dnsmasq_dir() / f"{bridge}.pid").unlink(missing_ok=True)
        if forget:
            (self._dnsmasq_dir() / f"{bridge}.log").unlink(missing_ok=True)


# -- helpers ------------------------------------------------------------------------------------


def _parse_network(cidr: str, gateway: str) -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Address]:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
        gw = ipaddress.ip_address(gateway)
    except ValueError as exc:
        raise VirtError(f"invalid network: {exc}") from exc
    if not isinstance(net, ipaddress.IPv4Network) or not isinstance(gw, ipaddress.IPv4Address):
        raise VirtError(f"network {cidr} and gateway {gateway} must be IPv4")
    if gw not in net or gw in (net.network_address, net.broadcast_address) or net.prefixlen > 30:
        raise VirtError(f"gateway {gateway} must be a host address of {cidr}")
    return net, gw


def _check_host(host: HostEntry, net: ipaddress.IPv4Network, gateway: str) -> None:
    if not MAC_RE.match(host.mac):
        raise VirtError(f"MAC address {host.mac!r} must be lower-case xx:xx:xx:xx:xx:xx")
    try:
        address = ipaddress.ip_address(host.address)
    except ValueError as exc:
        raise VirtError(f"invalid host address: {exc}") from exc
    reserved = (net.network_address, net.broadcast_address, ipaddress.ip_address(gateway))
    if address not in net or address in reserved:
        raise VirtError(f"{host.address} is not a free host address of {net}")
    if host.hostname and not HOSTNAME_RE.match(host.hostname):
        raise VirtError(f"host name {host.hostname!r} is not a DNS label")


def _address_key(host: HostEntry) -> tuple[int, str]:
    try:
        return int(ipaddress.IPv4Address(host.address)), host.mac
    except ValueError:  # reported by _check_host
        return 0, host.mac


def _check_forward(bind_address: str, host_port: int, guest_address: str, guest_port: int) -> Forward:
    try:
        bind, guest = ipaddress.IPv4Address(bind_address), ipaddress.IPv4Address(guest_address)
    except ValueError as exc:
        raise VirtError(f"invalid forward address: {exc}") from exc
    if not (0 < host_port < 65536 and 0 < guest_port < 65536):
        raise VirtError(f"ports {host_port} and {guest_port} must be TCP ports")
    return Forward(str(bind), host_port, str(guest), guest_port)


def _forward_key(forward: Forward) -> tuple[str, str]:
    if forward.bind_address == "0.0.0.0":
        return "forwards_any", str(forward.host_port)
    return "forwards", f"{forward.bind_address} . {forward.host_port}"


def _nft_value(value: Any, types: list[str]) -> str:
    """An element of ``nft -j`` output written back in nft syntax (ifnames quoted)."""
    if isinstance(value, dict) and "concat" in value:
        parts = value["concat"]
        return " . ".join(_nft_value(p, types[i : i + 1]) for i, p in enumerate(parts))
    if isinstance(value, dict) and "prefix" in value:
        return f"{value['prefix']['addr']}/{value['prefix']['len']}"
    if types and types[0] == "ifname":
        return f'"{value}"'
    return str(value)


def _alias(**fields: str) -> str:
    return json.dumps({"stratus": 1, **fields}, separators=(",", ":"))


def _parse_alias(link: dict[str, Any]) -> dict[str, str]:
    try:
        alias = json.loads(link.get("ifalias", ""))
    except ValueError:
        return {}
    return alias if isinstance(alias, dict) and alias.get("stratus") == 1 else {}


def _bridge_mac(net_id: str) -> str:
    """A fixed, locally administered MAC: a bridge otherwise takes the lowest MAC of its ports
    and changes it as ports come and go, which leaves guests with a stale gateway ARP entry."""
    digest = hashlib.sha256(b"stratus-bridge:" + net_id.encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def _sysctl(name: str, value: str, *, optional: bool = False) -> None:
    path = Path("/proc/sys") / name
    try:
        if path.read_text().strip() != value:
            path.write_text(value)
    except FileNotFoundError:
        if not optional:
            raise VirtError(f"sysctl {name.replace('/', '.')} does not exist on this host") from None
    except OSError as exc:
        raise VirtError(f"cannot set sysctl {name.replace('/', '.')}={value}: {exc}") from exc


def _has_cap_net_admin() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << CAP_NET_ADMIN))
    return False


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (dnsmasq is not our child: init reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
