"""A minimal QMP client: one short-lived connection per action over the guest's unix socket.

QEMU serves one QMP client at a time on a socket chardev, so connections are kept short (a
long-lived one would block the agent's other workers). Socket paths can exceed the 108-byte
sun_path limit in deep state dirs, so we connect through /proc/self/fd/<dir fd>/<name>.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from instances.virt.base import VirtError


class QMPError(VirtError):
    """QEMU answered a command with an error."""


class QMPClient:
    def __init__(self, path: Path, timeout: float = 10.0):
        self.path = Path(path)
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._sock: socket.socket | None = None
        self._buffer = b""

    def __enter__(self) -> QMPClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        dir_fd = os.open(self.path.parent, os.O_PATH | os.O_CLOEXEC)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(f"/proc/self/fd/{dir_fd}/{self.path.name}")
            self._sock = sock
            greeting = self._read_message()
            if "QMP" not in greeting:
                raise VirtError(f"unexpected QMP greeting: {greeting}")
            self.execute("qmp_capabilities")
        except OSError as exc:
            sock.close()
            self._sock = None
            raise VirtError(f"cannot talk to QEMU on {self.path}: {exc}") from exc
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _read_message(self) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise VirtError("QEMU closed the QMP connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command: str, fds: list[int] | None = None, **arguments: Any) -> Any:
        """Run a command and return its result; events that arrive meanwhile are kept."""
        if self._sock is None:
            raise VirtError("QMP client is not connected")
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        data = json.dumps(message).encode() + b"\n"
        try:
            if fds:
                # getfd/add-fd take the descriptor as SCM_RIGHTS ancillary data on this message.
                socket.send_fds(self._sock, [data], fds)
            else:
                self._sock.sendall(data)
            while True:
                reply = self._read_message()
                if "event" in reply:
                    self.events.append(reply)
                    continue
                if "error" in reply:
                    error = reply["error"]
                    raise QMPError(f"QEMU refused {command}: {error.get('desc', error)}")
                return reply.get("return")
        except OSError as exc:
            raise VirtError(f"QMP {command} failed: {exc}") from exc

    def wait_event(self, name: str, timeout: float) -> dict[str, Any] | None:
        """The first event called ``name`` (already received or arriving within ``timeout``)."""
        assert self._sock is not None
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["event"] == name:
                    self.events.remove(event)
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._sock.settimeout(remaining)
            try:
                message = self._read_message()
            except TimeoutError:
                return None
            finally:
                self._sock.settimeout(self.timeout)
            if "event" in message:
                self.events.append(message)
