"""One pass over the bytes: count, cap, hash (md5 + sha512, and a user's expected hash) and show
the head to the format inspectors.

The bytes land in a few large buffers that are reused (``readinto``); each hash runs in its own
thread (hashlib releases the GIL on large buffers), so reading, writing and both hashes overlap.
The inspectors only see the chunks they still need: every format decides from the head of the
file, except one that reads a footer (streamOptimized VMDK), which keeps being fed to the end."""

from __future__ import annotations

import hashlib
import hmac
import mmap
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from oslo_utils.imageutils import format_inspector

from dashboard.exceptions import BadRequest
from images.pipeline.errors import ImageRejected, TooLarge, TransferError
from images.pipeline.source import as_reader

# Algorithms a user may name in validation_data (Glance takes any hashlib algorithm; these are
# the ones that are not broken for this purpose).
VERIFIABLE = {"sha256", "sha384", "sha512", "sha3_256", "sha3_512"}


@dataclass
class IngestResult:
    size: int = 0
    checksum: str = ""
    os_hash_value: str = ""
    os_hash_algo: str = "sha512"
    inspectors: list = field(default_factory=list)


class _Hasher(threading.Thread):
    """Feeds one hash object the chunks it is handed, in order, and counts what it finished."""

    def __init__(self, hashobj, progress: threading.Condition):
        super().__init__(name=f"image-{hashobj.name}", daemon=True)
        self.hash = hashobj
        self.progress = progress
        self.done = 0
        self.queue: queue.SimpleQueue = queue.SimpleQueue()

    def run(self) -> None:
        while (chunk := self.queue.get()) is not None:
            self.hash.update(chunk)
            with self.progress:
                self.done += 1
                self.progress.notify_all()


class _Feed:
    """The smallest file-like source for oslo's InspectWrapper: it returns what it was given."""

    chunk = b""

    def read(self, size: int) -> bytes:
        chunk, self.chunk = self.chunk, b""
        return chunk


# The inspectors get the data in pieces this big: most decide within the first MiB, and each
# piece they see is copied (they keep slices of it) while a whole chunk would cost megabytes.
INSPECT_PIECE = 256 * 1024


def _show(wrapper, feed: _Feed, chunk: memoryview) -> None:
    """Hand a chunk to the inspectors piece by piece until they have decided."""
    for start in range(0, len(chunk), INSPECT_PIECE):
        if wrapper.formats is not None:
            return
        piece = bytes(chunk[start : start + INSPECT_PIECE])  # never a view of a reused buffer
        feed.chunk = piece
        wrapper.read(len(piece))


class Ingest:
    """Wraps a source (a reader with ``readinto``, or an iterable of bytes); iterating it yields
    the bytes as memoryviews into the pipeline's buffers, valid until the next item is asked for.

    ``max_bytes`` is a hard cap (never read past it), ``expected_size`` a size the client declared,
    ``on_progress(total)`` is called after every chunk (quota reservations, heartbeats) and may
    raise to stop the stream. ``expected_hash`` is (algorithm, hex digest) given by the user: a
    mismatch raises ImageRejected when the stream ends, before anything looks at the content.
    ``hash=False`` only counts and caps (a resumable upload's piece: its hashes come later, in
    the import's store pass; see images.pipeline.imports)."""

    def __init__(
        self,
        source,
        *,
        max_bytes: int,
        expected_size: int | None = None,
        on_progress: Callable[[int], None] | None = None,
        inspect: bool = True,
        expected_hash: tuple[str, str] | None = None,
        hash: bool = True,
    ):
        self._reader = as_reader(source)
        self._hash = hash
        self.max_bytes = max_bytes
        self.expected_size = expected_size
        self.on_progress = on_progress
        self._inspect = inspect
        self._expected_hash = expected_hash
        self.result = IngestResult()
        self.finished = False

    def __iter__(self) -> Iterator[memoryview]:
        progress = threading.Condition()
        md5 = hashlib.md5(usedforsecurity=False)
        sha512 = hashlib.sha512()
        hashers = [_Hasher(md5, progress), _Hasher(sha512, progress)] if self._hash else []
        extra = None
        if self._expected_hash and self._expected_hash[0] != "sha512":
            extra = _Hasher(hashlib.new(self._expected_hash[0]), progress)
            hashers.append(extra)
        wrapper, feed = self._inspector()
        for hasher in hashers:
            hasher.start()
        size = settings.IMAGE_CHUNK_SIZE
        # Anonymous maps: page-aligned, so a store can write them with O_DIRECT.
        buffers = [memoryview(mmap.mmap(-1, size)) for _ in range(settings.IMAGE_PIPELINE_BUFFERS)]
        limit = self.max_bytes if self.expected_size is None else min(self.max_bytes, self.expected_size)
        total = 0
        try:
            for index in range(1 << 62):
                if index >= len(buffers):
                    # The slot comes round again: wait until every hash is done with its old bytes.
                    with progress:
                        progress.wait_for(lambda i=index: all(h.done > i - len(buffers) for h in hashers))
                buffer = buffers[index % len(buffers)]
                # One byte beyond the limit is enough to know the limit is exceeded.
                n = self._fill(buffer[: min(size, limit - total + 1)])
                if n == 0:
                    break
                total += n
                if total > limit:
                    if self.expected_size is not None and total > self.expected_size:
                        raise TransferError(
                            f"More data than the declared size of {self.expected_size} bytes was sent."
                        )
                    raise TooLarge(f"The image is larger than the limit of {self.max_bytes} bytes.")
                if self.on_progress is not None:
                    self.on_progress(total)
                chunk = buffer[:n]
                for hasher in hashers:
                    hasher.queue.put(chunk)
                if wrapper is not None and wrapper.formats is None:
                    _show(wrapper, feed, chunk)
                yield chunk
            if self.expected_size is not None and total != self.expected_size:
                raise TransferError(
                    f"Received {total} bytes but the declared size was {self.expected_size} bytes."
                )
        finally:
            for hasher in hashers:
                hasher.queue.put(None)
            for hasher in hashers:
                hasher.join()
            close = getattr(self._reader, "close", None)
            if close is not None:
                close()
        self.result.size = total
        if not self._hash:
            self.finished = True
            return
        self.result.checksum = md5.hexdigest()
        self.result.os_hash_value = sha512.hexdigest()
        self._verify(extra.hash.hexdigest() if extra else self.result.os_hash_value)
        if wrapper is not None:
            wrapper.close()
            self.result.inspectors = wrapper.formats or []
        self.finished = True

    def _fill(self, buffer: memoryview) -> int:
        """Fill the buffer (a socket hands out a little at a time); fewer bytes only at the end."""
        filled = 0
        while filled < len(buffer):
            n = self._reader.readinto(buffer[filled:])
            if not n:
                break
            filled += n
        return filled

    def _inspector(self):
        if not self._inspect:
            return None, None
        feed = _Feed()
        return format_inspector.InspectWrapper(feed), feed

    def _verify(self, actual: str) -> None:
        if self._expected_hash is None:
            return
        algo, expected = self._expected_hash
        if not hmac.compare_digest(actual.lower(), expected.lower()):
            raise ImageRejected(
                f"The image data does not match the expected {algo} hash given in validation_data."
            )

    def consume(self) -> IngestResult:
        """Drain the stream without forwarding it anywhere (hashing or inspecting data already staged)."""
        for _ in self:
            pass
        return self.result


def check_expected_hash(validation: dict | None) -> tuple[str, str] | None:
    """validation_data from the API, as (algorithm, lowercase hex digest), or None if absent."""
    if not validation:
        return None
    if not isinstance(validation, dict):
        raise BadRequest("validation_data must be an object.")
    algo, value = validation.get("os_hash_algo"), validation.get("os_hash_value")
    if algo not in VERIFIABLE:
        raise BadRequest(f"os_hash_algo must be one of {', '.join(sorted(VERIFIABLE))}.")
    digest_size = hashlib.new(algo).digest_size
    if not isinstance(value, str) or len(value) != 2 * digest_size:
        raise BadRequest(f"os_hash_value must be a {algo} hex digest.")
    try:
        bytes.fromhex(value)
    except ValueError as exc:
        raise BadRequest(f"os_hash_value must be a {algo} hex digest.") from exc
    return algo, value.lower()


def inspect_file(path) -> list:
    """The format inspectors' verdict on a local file, reading only as far as they need (the head,
    or to the end for a format with a footer)."""
    feed = _Feed()
    wrapper = format_inspector.InspectWrapper(feed)
    with open(path, "rb", buffering=0) as fh:
        while wrapper.formats is None and (chunk := fh.read(INSPECT_PIECE)):
            feed.chunk = chunk
            wrapper.read(len(chunk))
    wrapper.close()
    return wrapper.formats or []
