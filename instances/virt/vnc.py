"""Where a guest's VNC server is, and how to reach it: QEMU serves each guest's screen on the unix
socket ``vnc.sock`` in the guest's state dir (``-vnc unix:vnc.sock``, see argv.py). No network port
is opened by QEMU; a console proxy on the same machine connects to the socket, and the compute
agent relays it to proxies on other machines (instances/compute/vnc_relay.py)."""

from __future__ import annotations

import os
import socket
import uuid as uuid_module
from pathlib import Path

from instances.virt.base import VirtError

SOCKET_NAME = "vnc.sock"


def socket_path(guests_dir: str | Path, uuid: str) -> Path:
    """The VNC socket of guest ``uuid`` under a driver's guests dir (``<state>/instances``)."""
    try:
        canonical = str(uuid_module.UUID(uuid))
    except ValueError as exc:
        raise VirtError(f"invalid instance uuid {uuid!r}") from exc
    return Path(guests_dir) / canonical / SOCKET_NAME


def connect_unix(path: Path, timeout: float = 10.0) -> socket.socket:
    """A connected stream socket to ``path``. Socket paths in deep state dirs can exceed the
    108-byte sun_path limit, so the connection goes through /proc/self/fd/<dir fd>/<name>."""
    try:
        dir_fd = os.open(path.parent, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise VirtError(f"no VNC socket at {path}: {exc}") from exc
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(f"/proc/self/fd/{dir_fd}/{path.name}")
    except OSError as exc:
        sock.close()
        raise VirtError(f"cannot connect to the VNC socket {path}: {exc}") from exc
    finally:
        os.close(dir_fd)
    sock.settimeout(None)
    return sock
