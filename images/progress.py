"""How far the server is with an image's bytes, for the Images panel's progress bar.

A job is the sending of the bytes (an upload from the browser, or the worker's download of a
URL), then the worker's processing passes (hashing, inspecting, converting, storing). The worker
writes where it is to the cache (Redis, shared by every process) a few times a second; the rows
read it with one query for the whole page. Upload offsets live in the database (ImageUpload),
since they must survive restarts; this record is only a view and may vanish (then the row shows
the status alone)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from django.core.cache import cache

PHASES = {
    "sending": "Sending",
    "downloading": "Downloading",
    "hashing": "Hashing",
    "inspecting": "Inspecting",
    "converting": "Converting",
    "storing": "Storing",
}
SENDING = ("sending", "downloading")
TTL = 3600  # a record outlives any pause between two reports; a dead worker's record goes stale
INTERVAL = 0.25  # seconds between two writes of the same pass


def _key(image_id) -> str:
    return f"image-progress:{image_id}"


@dataclass
class Progress:
    phase: str
    done: int
    total: int
    step: int = 0  # this pass's place among the processing passes
    steps: int = 1

    @property
    def label(self) -> str:
        return PHASES.get(self.phase, self.phase.title())

    @property
    def processing(self) -> bool:
        return self.phase not in SENDING

    @property
    def phase_percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def percent(self) -> int:
        """The whole job on one bar: sending is the first half, the processing passes the second."""
        within = self.done / self.total if self.total else 0
        if not self.processing:
            return int(50 * within)
        steps = max(self.steps, 1)
        return min(100, int(50 + 50 * (min(self.step, steps - 1) + within) / steps))


def report(image_id, progress: Progress) -> None:
    cache.set(_key(image_id), asdict(progress), timeout=TTL)


def clear(image_id) -> None:
    cache.delete(_key(image_id))


def read_many(image_ids) -> dict[str, Progress]:
    keys = {_key(i): str(i) for i in image_ids}
    if not keys:
        return {}
    found = cache.get_many(list(keys))
    return {keys[k]: Progress(**v) for k, v in found.items()}


class Reporter:
    """An ``on_progress`` hook for one pass over ``total`` bytes (``done`` is the running count);
    ``fraction`` takes a share instead (qemu-img reports percentages). Writes at most every
    INTERVAL seconds, and always the first and the last report."""

    def __init__(self, image_id, phase: str, total: int, step: int = 0, steps: int = 1):
        self.image_id = str(image_id)
        self.progress = Progress(phase, 0, max(total, 0), step, steps)
        self._last = 0.0
        report(self.image_id, self.progress)

    def __call__(self, done: int) -> None:
        self.progress.done = done
        now = time.monotonic()
        if now - self._last >= INTERVAL or (self.progress.total and done >= self.progress.total):
            self._last = now
            report(self.image_id, self.progress)

    def fraction(self, share: float) -> None:
        self(int(share * self.progress.total))
