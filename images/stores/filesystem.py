"""Images as files under a directory; a file counts as stored only after fsync and rename."""

from __future__ import annotations

import errno
import fcntl
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings

from images.stores.base import ImageStore, StoreError

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
            written = write_file(partial, chunks, direct=True, drop_behind=True)
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
# What O_DIRECT needs of addresses, lengths and offsets on any common device (512 B or 4 KiB sectors).
DIRECT_ALIGN = 4096


def write_file(
    path: Path, chunks: Iterable[bytes], *, direct: bool = False, drop_behind: bool = False
) -> int:
    """Write the chunks with plain os.write calls (no buffered copy) and fsync once at the end.

    ``direct`` is for files nobody reads soon (an image in the store). The file is opened with
    O_DIRECT, and page-aligned chunks (the pipeline's buffers) go from the buffer to the device
    without passing through the page cache: no copy on this CPU, no dirty pages to flush at the
    end, nothing useful pushed out of the cache. The unaligned tail of the last chunk, a chunk
    that is not aligned, or a filesystem without O_DIRECT is written through the page cache, with
    ``drop_behind`` as there.

    ``drop_behind``: every WRITEBACK_EVERY bytes written through the page cache, POSIX_FADV_DONTNEED
    on the latest windows starts their writeback without waiting for it and drops the pages already
    on disk, so the final fsync finds the file nearly all on disk. Staged files, which a worker
    reads right away, use neither and stay cached."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = _open_direct(path, flags) if direct else None
    direct = fd is not None
    if fd is None:
        fd = os.open(path, flags, 0o600)
    written = handed = 0
    try:
        for chunk in chunks:
            view = memoryview(chunk).cast("B")
            if direct:
                aligned = len(view) - len(view) % DIRECT_ALIGN
                try:
                    while aligned:
                        n = os.write(fd, view[:aligned])
                        view, aligned, written = view[n:], aligned - n, written + n
                        handed = written
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    aligned = 0  # an unaligned buffer: the rest goes through the page cache
                if view:
                    direct = _through_page_cache(fd)
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


def _open_direct(path: Path, flags: int) -> int | None:
    """The file opened with O_DIRECT, or None where the filesystem does not support it."""
    try:
        return os.open(path, flags | os.O_DIRECT, 0o600)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return None


def _through_page_cache(fd: int) -> bool:
    """Turn O_DIRECT off for the rest of the file; returns the new ``direct`` (False)."""
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
    return False


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
