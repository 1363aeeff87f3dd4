"""A network lab for tests of host networking: the test process enters a fresh network namespace
(the "host") for the test's duration, and "guests" are further namespaces plugged into bridges by
veth pairs. Everything the lab makes is killed and deleted afterwards, whatever the outcome."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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


def setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


@contextlib.contextmanager
def inside(namespace: str) -> Iterator[None]:
    """Run the calling thread (and the processes and sockets it makes) in a named namespace."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        with open(f"/run/netns/{namespace}") as handle:
            setns(handle.fileno())
        yield
    finally:
        setns(original)
        os.close(original)


def run(*argv: str) -> str:
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
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def guest(self, role: str, bridge: str, mac: str, address: str | None = None, gateway: str = "") -> str:
        """A guest namespace whose eth0 is plugged into ``bridge``; with ``address``, configured
        statically with a default route through ``gateway``."""
        ns = self.namespace(role)
        port = f"v{self.tag}{role}"[:15]
        run("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        run("ip", "link", "set", port, "master", bridge, "up")
        run("ip", "-n", ns, "link", "set", "eth0", "address", mac, "up")
        if address:
            run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            run("ip", "-n", ns, "route", "add", "default", "via", gateway)
        return ns

    def outside(self) -> str:
        """A machine on the host's uplink, which has no route to the guest networks."""
        ns = self.namespace("outside")
        run("ip", "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", ns)
        run("ip", "addr", "add", f"{UPLINK_HOST}/24", "dev", "uplink")
        run("ip", "link", "set", "uplink", "up")
        run("ip", "-n", ns, "addr", "add", f"{UPLINK_OUTSIDE}/24", "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
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
