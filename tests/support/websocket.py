"""A minimal blocking websocket client (RFC 6455) for the console proxy tests: the opening
handshake with the answer's status kept (a refusal is an HTTP answer, not an exception), binary
messages both ways, and the close frame's code and reason."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    """The server closed the websocket; ``code`` and ``reason`` are from its close frame."""

    def __init__(self, code: int | None, reason: str):
        super().__init__(f"closed with {code}: {reason}")
        self.code, self.reason = code, reason


class Connection:
    """An open websocket: the socket, and what arrived with the handshake's answer."""

    def __init__(self, sock: socket.socket, pending: bytes):
        self.sock, self.pending = sock, pending

    def recv(self, size: int) -> bytes:
        if self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
            return data
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def close(self) -> None:
        self.sock.close()


@dataclass
class Answer:
    status: int
    reason: str  # the status line's reason phrase
    body: bytes
    socket: Connection | None  # the open websocket after a 101


def connect(url: str, timeout: float = 30.0) -> Answer:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
    key = base64.b64encode(os.urandom(16))
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            break
        head += data
    head, _, rest = head.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    _, status, reason = (status_line.split(" ", 2) + [""])[:3]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    if status != "101":
        body = rest
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            data = sock.recv(4096)
            if not data:
                break
            body += data
        sock.close()
        return Answer(int(status), reason, body, None)
    expected = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    assert headers.get("sec-websocket-accept") == expected, headers
    return Answer(101, reason, b"", Connection(sock, rest))


def _read_exact(sock: Connection, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise Closed(None, "the connection ended without a close frame")
        data += chunk
    return data


def receive(sock: Connection) -> bytes:
    """The next binary or text message (pings are answered, not returned); Closed at a close frame."""
    message = b""
    while True:
        first, second = _read_exact(sock, 2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", _read_exact(sock, 2))
        elif length == 127:
            (length,) = struct.unpack("!Q", _read_exact(sock, 8))
        mask = _read_exact(sock, 4) if second & 0x80 else b""
        payload = _read_exact(sock, length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            raise Closed(code, payload[2:].decode(errors="replace"))
        if opcode == 0x9:
            send(sock, payload, opcode=0xA)
            continue
        if opcode == 0xA:
            continue
        message += payload
        if first & 0x80:
            return message


def send(sock: Connection, payload: bytes, opcode: int = 0x2) -> None:
    """One masked frame, as a client sends."""
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    elif len(payload) < 1 << 16:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def receive_until_closed(sock: Connection, timeout: float) -> Closed:
    """Read (and drop) messages until the server closes; the close, or AssertionError on timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            receive(sock)
    except Closed as closed:
        return closed
    except TimeoutError as exc:
        raise AssertionError(f"the websocket stayed open for {timeout:.0f} s") from exc
