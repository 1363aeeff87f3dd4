"""Reading a request body as chunks from the WSGI stream, never through ``request.body``."""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings

from .errors import TransferError


def request_chunks(request) -> Iterator[bytes]:
    """The body of a Django request, chunk by chunk. With Content-Length, exactly that many bytes;
    without (chunked transfer), until the server says the input ends (gunicorn sets
    ``wsgi.input_terminated``)."""
    meta = request.META
    stream = meta["wsgi.input"]
    chunk_size = settings.IMAGE_CHUNK_SIZE
    length = meta.get("CONTENT_LENGTH") or ""
    if length.strip():
        try:
            remaining = int(length)
        except ValueError as exc:
            raise TransferError("Content-Length is not a number.") from exc
        while remaining > 0:
            data = stream.read(min(chunk_size, remaining))
            if not data:
                raise TransferError("The request body ended before Content-Length bytes arrived.")
            remaining -= len(data)
            yield data
        return
    if not meta.get("wsgi.input_terminated"):
        # Without a length and without a terminated stream, the end of the body is unknowable.
        if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
            raise TransferError("This server cannot read chunked bodies here; send Content-Length.")
        return
    while True:
        data = stream.read(chunk_size)
        if not data:
            return
        yield data


def file_chunks(path, offset: int = 0) -> Iterator[bytes]:
    chunk_size = settings.IMAGE_CHUNK_SIZE
    with open(path, "rb") as fh:
        fh.seek(offset)
        while data := fh.read(chunk_size):
            yield data
