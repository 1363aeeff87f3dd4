"""A compute agent's VNC relay: how a console proxy on another machine reaches the guests' screens.

QEMU serves each guest's VNC only on a unix socket in the guest's state dir. When the proxy runs
on the host's own machine it connects there; for proxies elsewhere the agent listens on
STRATUS_CONSOLE_VNC_LISTEN (and records STRATUS_CONSOLE_VNC_ADDRESS in its host's capabilities).
A proxy opens a TCP connection and sends one line::

    STRATUS-VNC-RELAY 1 <instance id> <console token>\\n

The agent checks the token exactly as the proxy did (instances.services.consoles.check: known,
unexpired, bound to that instance, which runs on this host) and answers ``OK`` or ``NO <reason>``;
after ``OK`` the connection carries the guest's RFB stream both ways until either side closes. The
relay opens nothing without a valid console token, so the address can be reached by the proxies
only; keep it on the management network all the same (the hop is not encrypted).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from pathlib import Path
from socketserver import StreamRequestHandler, ThreadingTCPServer

from django.db import close_old_connections

from instances.services import consoles
from instances.virt import VirtError, vnc

log = logging.getLogger(__name__)

PROTOCOL = b"STRATUS-VNC-RELAY 1"
MAX_LINE = 512
HANDSHAKE_TIMEOUT = 10.0
CHUNK = 64 * 1024


class RelayRefused(Exception):
    """The relay answered NO (the reason is the message), or did not answer as a relay does."""


def splice(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes, then shut both down."""
    peers = {one: other, other: one}
    try:
        while True:
            readable, _, _ = select.select(list(peers), [], [])
            for sock in readable:
                data = sock.recv(CHUNK)
                if not data:
                    return
                peers[sock].sendall(data)
    except OSError as exc:
        log.debug("VNC relay connection ended: %s", exc)
    finally:
        for sock in (one, other):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def connect(address: tuple[str, int], token: str, instance_id: str, timeout: float = HANDSHAKE_TIMEOUT):
    """The proxy's side: a connection to the relay at ``address`` carrying the guest's VNC, or
    RelayRefused with the relay's reason (OSError when it cannot be reached)."""
    sock = socket.create_connection(address, timeout=timeout)
    try:
        sock.sendall(b"%s %s %s\n" % (PROTOCOL, instance_id.encode(), token.encode()))
        answer = b""
        while not answer.endswith(b"\n") and len(answer) < MAX_LINE:
            data = sock.recv(1)
            if not data:
                break
            answer += data
        words = answer.decode(errors="replace").strip()
        if words != "OK":
            raise RelayRefused(words.removeprefix("NO ").strip() or "The VNC relay closed the connection.")
    except (OSError, RelayRefused):
        sock.close()
        raise
    sock.settimeout(None)
    return sock


class _Server(ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class VncRelay:
    """The relay of one compute host: a threaded TCP server, one thread per console."""

    def __init__(self, host_name: str, listen: str, socket_dir: Path):
        self.host_name, self.socket_dir = host_name, Path(socket_dir)
        address, _, port = listen.rpartition(":")
        relay = self

        class Handler(StreamRequestHandler):
            rbufsize = 0  # unbuffered: nothing after the handshake line is read ahead into a buffer

            def handle(self) -> None:
                relay.serve(self.connection, self.rfile)

        self.server = _Server((address, int(port)), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="vnc-relay", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> VncRelay:
        self.thread.start()
        log.info("VNC relay on %s:%d", *self.server.server_address[:2])
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def serve(self, conn: socket.socket, rfile) -> None:
        conn.settimeout(HANDSHAKE_TIMEOUT)
        try:
            line = rfile.readline(MAX_LINE)
        except OSError:
            return
        words = line.decode(errors="replace").split()
        if len(words) != 4 or " ".join(words[:2]).encode() != PROTOCOL:
            conn.sendall(b"NO This is a VNC relay; it speaks only its own handshake.\n")
            return
        instance_id, token = words[2], words[3]
        close_old_connections()
        try:
            grant = consoles.check(token, instance_id, host_name=self.host_name)
            guest = vnc.connect_unix(vnc.socket_path(self.socket_dir, grant.instance_id))
        except consoles.ConsoleRefused as exc:
            conn.sendall(b"NO %s\n" % exc.message.encode())
            return
        except VirtError as exc:
            log.warning("VNC relay: %s", exc)
            conn.sendall(b"NO The guest's screen cannot be reached.\n")
            return
        finally:
            close_old_connections()
        conn.sendall(b"OK\n")
        conn.settimeout(None)
        log.info("VNC relay: console of instance %s opened", grant.instance_id)
        splice(conn, guest)
