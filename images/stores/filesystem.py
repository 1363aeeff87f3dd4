"""Images as files under a directory; a file counts as stored only after fsync and rename."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings

from .base import ImageStore, StoreError

KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def safe_key(key: str) -> str:
    # Keys come from image UUIDs only; anything else is a programming error, never a path.
    if not KEY.match(key):
        raise StoreError("Invalid storage key.")
    return key


class FilesystemStore(ImageStore):
    def __init__(self, name: str, path: str, description: str = "Local filesystem"):
        self.name, self.description = name, description
        self.root = Path(path).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / safe_key(key)

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        final = self.path(key)
        partial = final.with_name(f".{final.name}.partial")
        try:
            written = write_file(partial, chunks, drop_behind=True)
            os.replace(partial, final)
            dir_fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return written

    def get(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self.path(key)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError as exc:
            raise StoreError("Image data not found in the store.") from exc
        return _read_file(fh, offset, length)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
        self.path(key).with_name(f".{key}.partial").unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> Iterator[str]:
        return (p.name for p in self.root.iterdir() if KEY.match(p.name))


# With drop_behind, written bytes are handed to the kernel's writeback this often.
WRITEBACK_EVERY = 32 * 1024 * 1024


def write_file(path: Path, chunks: Iterable[bytes], *, drop_behind: bool = False) -> int:
    """Write the chunks with plain os.write calls (no buffered copy) and fsync once at the end.

    ``drop_behind`` is for files nobody reads soon (an image in the store): every WRITEBACK_EVERY
    bytes, POSIX_FADV_DONTNEED on the latest windows starts their writeback without waiting for it
    and drops the pages already on disk. The final fsync then finds the file nearly all on disk
    instead of writing a whole image while the client waits for the answer, and an upload does not
    push everything else out of the page cache. Staged files, which a worker reads right away,
    stay cached."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = handed = 0
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                n = os.write(fd, view)
                view = view[n:]
                written += n
            if drop_behind and written - handed >= WRITEBACK_EVERY:
                # The window before the last one has been written back by now: drop it as well.
                start = max(0, handed - WRITEBACK_EVERY)
                os.posix_fadvise(fd, start, written - start, os.POSIX_FADV_DONTNEED)
                handed = written
        os.fsync(fd)
    finally:
        os.close(fd)
    return written


def _read_file(fh, offset: int, length: int | None) -> Iterator[bytes]:
    chunk_size = settings.IMAGE_CHUNK_SIZE
    with fh:
        fh.seek(offset)
        remaining = length
        while remaining is None or remaining > 0:
            data = fh.read(chunk_size if remaining is None else min(chunk_size, remaining))
            if not data:
                return
            if remaining is not None:
                remaining -= len(data)
            yield data
