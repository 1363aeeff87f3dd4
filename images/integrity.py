"""Integrity of image data after it was stored: the scrubber that re-hashes stored images in the
background, and the check of data served from an HTTP location while it streams.

Active data never changes, so the os_hash_value computed when it was stored must still describe
it. A failing disk, bit rot, an operator's mistake or an intruder can change a stored file; a
remote server can change what its URL serves. The scrubber (Celery beat, task ``images.scrub``)
re-reads stored images oldest check first, at a limited rate, one chunk at a time. Data that is
missing, unreadable or does not match marks the image corrupt (``services.mark_corrupt``):
downloads and launches refuse it and the Images panel shows it. A later check that finds the data
intact again (an administrator restored the file) clears the mark.

Images whose data stays at an HTTP location are not fetched by the scrubber (that would download
every remote image again on every round); they are verified each time they are served."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from images import services
from images.models import Image, ImageLocation
from images.stores import StoreError, get_store

log = logging.getLogger(__name__)

HTTP_STORE = "http"


class CorruptData(Exception):
    """Data being served turned out not to be the image's data; the transfer is cut."""


class Throttle:
    """Keeps reading at or below ``rate`` bytes a second over a whole run (0: no limit)."""

    def __init__(
        self,
        rate: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate, self._clock, self._sleep = rate, clock, sleep
        self._started = clock()
        self.done = 0

    def __call__(self, count: int) -> None:
        self.done += count
        if self.rate <= 0:
            return
        ahead = self.done / self.rate - (self._clock() - self._started)
        if ahead > 0:
            self._sleep(ahead)


@dataclass
class ScrubReport:
    checked: int = 0
    bytes: int = 0
    seconds: float = 0.0
    corrupt: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    # Images a store could not be read for this time (unreachable, not a finding about the data).
    unreadable_store: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "checked": self.checked,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "corrupt": self.corrupt,
            "restored": self.restored,
            "unreadable_store": self.unreadable_store,
        }


# --- the scrubber ----------------------------------------------------------------------------------


def scrub(
    *,
    limit: int | None = None,
    image_ids: Iterable[str] | None = None,
    throttle: Throttle | None = None,
    budget: float | None = None,
) -> ScrubReport:
    """One round: check up to ``limit`` images whose last check is older than IMAGE_SCRUB_AGE
    (or exactly ``image_ids``, whatever their last check), reading at most
    IMAGE_SCRUB_BYTES_PER_SECOND, and starting no new image after ``budget`` seconds."""
    started = time.monotonic()
    throttle = throttle or Throttle(settings.IMAGE_SCRUB_BYTES_PER_SECOND)
    report = ScrubReport()
    for image_id, last in _due(limit, image_ids):
        if budget is not None and time.monotonic() - started > budget:
            break
        if not services.claim_scrub(image_id, last):
            continue  # another round took it meanwhile
        before = throttle.done
        check_stored(str(image_id), throttle, report)
        report.checked += 1
        report.bytes += throttle.done - before
    report.seconds = time.monotonic() - started
    return report


def _due(limit: int | None, image_ids: Iterable[str] | None) -> list[tuple]:
    stored = ImageLocation.objects.filter(image=OuterRef("pk")).exclude(store=HTTP_STORE)
    images = Image.objects.filter(Exists(stored), status__in=services.HAS_DATA, os_hash_value__gt="")
    if image_ids is not None:
        images = images.filter(pk__in=list(image_ids))
    else:
        cutoff = timezone.now() - timedelta(seconds=settings.IMAGE_SCRUB_AGE)
        images = images.filter(Q(scrubbed_at__isnull=True) | Q(scrubbed_at__lt=cutoff))
    ordered = images.order_by(F("scrubbed_at").asc(nulls_first=True), "created_at", "id")
    return list(ordered.values_list("pk", "scrubbed_at")[:limit])


def check_stored(image_id: str, throttle: Throttle, report: ScrubReport) -> None:
    """Re-hash every stored copy of the image and record the verdict."""
    image = Image.objects.prefetch_related("locations").get(pk=image_id)
    problem = None
    for location in image.locations.all():
        if location.store == HTTP_STORE:
            continue
        try:
            problem = _check_location(image, location, throttle)
        except StoreError as exc:
            log.warning("Could not check image %s in store %s: %s", image_id, location.store, exc)
            report.unreadable_store.append(image_id)
            return
        if problem:
            break
    if problem:
        if services.mark_corrupt(image.pk, image.os_hash_value, problem):
            log.error("Image %s is corrupt: %s", image_id, problem)
        report.corrupt.append(image_id)
    elif image.is_corrupt and services.mark_intact(image.pk, image.os_hash_value):
        log.warning("Image %s matches its hash again; it is no longer marked corrupt", image_id)
        report.restored.append(image_id)


def _check_location(image: Image, location: ImageLocation, throttle: Throttle) -> str | None:
    """What is wrong with the data in one store, or None. Raises StoreError when the store could
    not be asked (that says nothing about the data)."""
    store = get_store(location.store)
    key = location.data_key
    try:
        chunks = store.get(key)
    except StoreError:
        if not store.exists(key):
            return f"The data is missing from store {store.name!r}."
        raise
    algo = image.os_hash_algo or "sha512"
    digest = hashlib.new(algo)
    size = 0
    try:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            throttle(len(chunk))
            if size > image.size:
                return f"The data in store {store.name!r} is longer than the image's {image.size} bytes."
    except OSError as exc:
        return f"The data in store {store.name!r} could not be read ({exc.strerror or type(exc).__name__})."
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if size != image.size:
        return f"The data in store {store.name!r} is {size} bytes; the image's size is {image.size} bytes."
    if not hmac.compare_digest(digest.hexdigest(), image.os_hash_value):
        return f"The data in store {store.name!r} does not match the image's {algo} os_hash_value."
    return None


# --- serving from an HTTP location -----------------------------------------------------------------


def verified(
    image: Image, chunks: Iterable[bytes], start: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """Bytes ``start`` … ``start + length`` of the image, taken from ``chunks`` (all of its data,
    from the first byte), hashing all of it on the way. The last piece is held back until the whole
    data has matched the image's size and hash: on a mismatch the image is marked corrupt and the
    stream ends with CorruptData instead, so the client sees a cut transfer, never a complete
    wrong file."""
    size = image.size or 0
    end = size if length is None else start + length
    digest = hashlib.new(image.os_hash_algo or "sha512")
    seen = 0
    held = b""
    try:
        for chunk in chunks:
            digest.update(chunk)
            first, seen = seen, seen + len(chunk)
            if seen > size:
                _corrupt(image, f"Its HTTP location sent more than the image's {size} bytes.")
            piece = chunk[max(start - first, 0) : max(end - first, 0)]
            if piece:
                if held:
                    yield held
                held = piece
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if seen != size:
        _corrupt(image, f"Its HTTP location sent {seen} bytes; the image's size is {size} bytes.")
    if not hmac.compare_digest(digest.hexdigest(), image.os_hash_value or ""):
        _corrupt(
            image, f"The data at its HTTP location does not match the image's {digest.name} os_hash_value."
        )
    if held:
        yield held


def _corrupt(image: Image, problem: str) -> None:
    if services.mark_corrupt(image.pk, image.os_hash_value or "", problem):
        log.error("Image %s is corrupt: %s", image.pk, problem)
    raise CorruptData(f"Image {image.pk}: {problem} The transfer was cut.")
