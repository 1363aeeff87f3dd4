"""A TCP relay between a browser and a server under test: it can limit the rate of the bytes the
client sends (so that an upload lasts long enough to be cut at a chosen point), count them, and
drop every connection at once with a reset, as a network failure does."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time


class Wire:
    def __init__(self, target_port: int, *, rate: int = 0, host: str = "127.0.0.1"):
        self.target = (host, target_port)
        self.rate = rate  # bytes a second from client to server; 0: no limit
        self.sent = 0  # bytes relayed from client to server
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        free_at = time.monotonic()  # when the next bytes may pass; an idle link earns no credit
        try:
            while data := source.recv(64 * 1024):
                rate = self.rate
                if upstream and rate:
                    now = time.monotonic()
                    if free_at > now:
                        time.sleep(free_at - now)  # pacing the relay, not waiting for a condition
                    free_at = max(free_at, now) + len(data) / rate
                sink.sendall(data)
                if upstream:
                    with self._lock:
                        self.sent += len(data)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
        except OSError:
            self._reset(source, sink)

    def _reset(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                # Close with RST, not FIN: the peer sees a broken connection, not a finished one.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._sockets.discard(sock)

    def cut(self) -> None:
        """Drop every open connection, both ways, at once."""
        with self._lock:
            sockets = list(self._sockets)
        self._reset(*sockets)

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()
        self.cut()
