"""One pass over the bytes: count, cap, hash (md5 + sha512) and feed the format inspectors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from oslo_utils.imageutils import format_inspector

from .errors import TooLarge, TransferError

# hashlib drops the GIL on large buffers, so md5 in a helper thread runs beside sha512.
_hash_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="image-md5")


@dataclass
class IngestResult:
    size: int = 0
    checksum: str = ""
    os_hash_value: str = ""
    os_hash_algo: str = "sha512"
    inspectors: list = field(default_factory=list)


class Ingest:
    """Wraps a chunk stream; iterating it passes the chunks through while measuring them.

    ``max_bytes`` is a hard cap (checked before a chunk goes further), ``expected_size`` a size the
    client declared, ``on_progress(total)`` is called after every chunk (quota reservations,
    heartbeats) and may raise to stop the stream."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        max_bytes: int,
        expected_size: int | None = None,
        on_progress: Callable[[int], None] | None = None,
        inspect: bool = True,
    ):
        self._chunks = chunks
        self.max_bytes = max_bytes
        self.expected_size = expected_size
        self.on_progress = on_progress
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha512 = hashlib.sha512()
        self._inspect = inspect
        self._wrapper: format_inspector.InspectWrapper | None = None
        self.result = IngestResult()
        self.finished = False

    def __iter__(self) -> Iterator[bytes]:
        measured = self._measured()
        if self._inspect:
            self._wrapper = format_inspector.InspectWrapper(measured)
            yield from self._wrapper
            self.result.inspectors = self._wrapper.formats or []
        else:
            yield from measured
        self.finished = True

    def _measured(self) -> Iterator[bytes]:
        total = 0
        limit = self.max_bytes if self.expected_size is None else min(self.max_bytes, self.expected_size)
        for chunk in self._chunks:
            if not chunk:
                continue
            total += len(chunk)
            if total > limit:
                if self.expected_size is not None and total > self.expected_size:
                    raise TransferError(
                        f"More data than the declared size of {self.expected_size} bytes was sent."
                    )
                raise TooLarge(f"The image is larger than the limit of {self.max_bytes} bytes.")
            if self.on_progress is not None:
                self.on_progress(total)
            pending = _hash_pool.submit(self._md5.update, chunk)
            self._sha512.update(chunk)
            pending.result()
            yield chunk
        if self.expected_size is not None and total != self.expected_size:
            raise TransferError(
                f"Received {total} bytes but the declared size was {self.expected_size} bytes."
            )
        self.result.size = total
        self.result.checksum = self._md5.hexdigest()
        self.result.os_hash_value = self._sha512.hexdigest()

    def consume(self) -> IngestResult:
        """Drain the stream without forwarding it anywhere (inspecting data already staged)."""
        for _ in self:
            pass
        return self.result
