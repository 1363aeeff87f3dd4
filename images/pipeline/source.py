"""Where image bytes come from, as readers that fill a caller's buffer (``readinto``).

The pipeline owns a few large buffers and asks a reader to fill them; a reader that can write
straight into the buffer (a file, a socket) costs no Python-level copy per chunk. Reading a
request body never goes through ``request.body``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from django.conf import settings

from images.pipeline.errors import TransferError


class IterReader:
    """Adapts an iterable of bytes (a download, a store read, a test generator) to ``readinto``.
    Each chunk is copied once into the caller's buffer; that is the only copy."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")

    def readinto(self, buffer: memoryview) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk).cast("B")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class FileReader:
    def __init__(self, path, offset: int = 0):
        self._fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        if offset:
            self._fh.seek(offset)

    def readinto(self, buffer: memoryview) -> int:
        return self._fh.readinto(buffer) or 0

    def close(self) -> None:
        self._fh.close()


class BodyReader:
    """A WSGI request body. With Content-Length, exactly that many bytes; without (chunked
    transfer), until the server says the input ends (gunicorn sets ``wsgi.input_terminated``)."""

    def __init__(self, meta: dict):
        self._stream = meta["wsgi.input"]
        length = (meta.get("CONTENT_LENGTH") or "").strip()
        self.remaining: int | None = None
        if length:
            try:
                self.remaining = int(length)
            except ValueError as exc:
                raise TransferError("Content-Length is not a number.") from exc
            if self.remaining < 0:
                raise TransferError("Content-Length is not a number.")
        elif not meta.get("wsgi.input_terminated"):
            # Without a length and without a terminated stream, the end of the body is unknowable.
            if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
                raise TransferError("This server cannot read chunked bodies here; send Content-Length.")
            self.remaining = 0
        self._socket, self._head = _gunicorn_socket(meta, self.remaining)

    def readinto(self, buffer: memoryview) -> int:
        want = len(buffer) if self.remaining is None else min(len(buffer), self.remaining)
        if want == 0:
            return 0
        if self._head:
            n = min(want, len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
        elif self._socket is not None:
            n = self._socket.recv_into(buffer, want)
        else:
            data = self._stream.read(want)
            n = len(data)
            buffer[:n] = data
        if self.remaining is not None:
            if n == 0:
                raise TransferError("The request body ended before Content-Length bytes arrived.")
            self.remaining -= n
            if self._socket is not None:
                # Keep gunicorn's own count in step, so it does not wait for bytes we already took.
                self._stream.reader.length -= n
        return n

    def close(self) -> None:
        pass


def _gunicorn_socket(meta: dict, remaining: int | None) -> tuple[object | None, memoryview]:
    """The client socket, when the body can be read from it directly: gunicorn's body of known
    length that nobody has read from yet. Reading through gunicorn costs several copies per byte
    (BytesIO joins and slices); ``recv_into`` our buffer costs none. Returns the socket and the
    bytes gunicorn already holds (they arrived with the headers and come first). Any other
    server or a chunked body falls back to ``wsgi.input.read``."""
    none = (None, memoryview(b""))
    sock = meta.get("gunicorn.socket")
    stream = meta["wsgi.input"]
    if sock is None or not remaining or not settings.IMAGE_DIRECT_SOCKET_READS:
        return none
    reader = getattr(stream, "reader", None)
    unreader = getattr(reader, "unreader", None)
    if type(reader).__name__ != "LengthReader" or getattr(reader, "length", None) != remaining:
        return none
    buf = getattr(stream, "buf", None)
    if buf is None or buf.tell() or not hasattr(unreader, "take_buffered"):
        return none
    head = unreader.take_buffered()
    if len(head) > remaining:
        # A pipelined next request follows the body: leave it all to gunicorn.
        unreader.unread(head)
        return none
    return sock, memoryview(head)


def open_file(path, offset: int = 0) -> FileReader:
    return FileReader(path, offset)


def as_reader(source):
    """A reader for any source: readers pass through, iterables of bytes are adapted."""
    if hasattr(source, "readinto"):
        return source
    return IterReader(source)


def file_chunks(path, offset: int = 0) -> Iterator[bytes]:
    chunk_size = settings.IMAGE_CHUNK_SIZE
    fd = os.open(path, os.O_RDONLY)
    try:
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        while data := os.read(fd, chunk_size):
            yield data
    finally:
        os.close(fd)
