"""What a worker does for an import: fetch or read staged bytes, verify, convert, store.

Which bytes are read how often (an upload's bytes were only counted and written to staging on
their way in, see images.resumable):

- the hashes (md5 ``checksum``, sha512 ``os_hash_value``) are computed once, in the pass that
  writes the final data to the store. hashlib cannot save a hash's state to disk, so a resumable
  upload that spans requests, processes or a restart could not carry its hashes across; hashing
  the staged file in the store pass reads it once, which costs the same as resuming would have.
  Only when the user gave an expected hash (validation_data) is there a pass before that, so no
  inspector or qemu-img sees bytes that do not match it;
- the format inspectors read the head of the staged file only (every format decides there,
  except a streamOptimized VMDK, whose footer is read to the end);
- a conversion reads the staged file once more (qemu-img), and the store pass then reads the
  converted file instead.

Each pass reports its progress (images.progress) and checks a few times a second that the
import is still its own, so an abort stops it within a second."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings

from dashboard.exceptions import StratusError
from images import import_tasks, progress, services
from images.choices import ImageStatus, ImportMethod
from images.integrity import Throttle
from images.models import Image, ImageLocation
from images.pipeline import ova, qemu
from images.pipeline.errors import Cancelled, ImageRejected, PipelineError
from images.pipeline.fetch import open_url
from images.pipeline.ingest import Ingest, inspect_file
from images.pipeline.source import open_file
from images.pipeline.verify import check_content, check_with_qemu
from images.quotas import Reserver
from images.staging import staging_path, write_staging
from images.stores import StoreError, default_store, get_store

log = logging.getLogger(__name__)
# Set on an image that an import converted: the disk_format its bytes had when they arrived.
SOURCE_FORMAT_PROPERTY = "source_disk_format"


class ImportCancelled(Cancelled):
    """The lease was lost: the image was deleted or another worker took over."""


# How often a running pass checks that the import is still its own (an abort clears the lease).
CHECK_INTERVAL = 0.5


class Heartbeat:
    """Progress hook: checks the lease twice a second (an abort or a delete takes it away), renews
    it every few seconds, and stops the work once it is lost."""

    def __init__(self, image_id: str, owner: str, then=None):
        self.image_id, self.owner, self.then = image_id, owner, then
        self.interval = max(1.0, settings.IMAGE_IMPORT_LEASE / 4)
        self.last = self.checked = time.monotonic()

    def __call__(self, total: int) -> None:
        if self.then is not None:
            self.then(total)
        self.beat()

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.last = self.checked = now
            if not services.heartbeat(self.image_id, self.owner):
                raise ImportCancelled("The import was cancelled.")
        elif now - self.checked >= CHECK_INTERVAL:
            self.checked = now
            if not services.holds_lease(self.image_id, self.owner):
                raise ImportCancelled("The import was cancelled.")

    def cancelled(self) -> bool:
        """For work that is not a stream of chunks (qemu-img): True once the lease is lost."""
        try:
            self.beat()
        except ImportCancelled:
            return True
        return False


class Pass:
    """The ``on_progress`` hook of one pass over the bytes: lease check, progress report and the
    operator's rate limit (STRATUS_IMAGE_IMPORT_BYTES_PER_SECOND), in that order."""

    def __init__(self, beat: Heartbeat, reporter: progress.Reporter, then=None):
        self.beat, self.reporter, self.then = beat, reporter, then
        self.throttle = Throttle(settings.IMAGE_IMPORT_BYTES_PER_SECOND)
        self.seen = 0

    def __call__(self, total: int) -> None:
        if self.then is not None:
            self.then(total)
        self.beat(total)
        self.reporter(total)
        self.throttle(total - self.seen)
        self.seen = total


def _plan(image: Image, location: bool, verify: bool) -> list[str]:
    """The processing passes this import will make, for one progress bar across them."""
    steps = ["hashing"] if verify else []
    steps.append("inspecting")
    target = settings.IMAGE_CONVERT_TO
    if not location and target and image.disk_format in settings.IMAGE_CONVERT_FROM:
        steps.append("converting")
    if not location:
        steps.append("storing")
    return steps


def run_import(image_id: str, owner: str) -> None:
    image = Image.objects.get(pk=image_id)
    import_tasks.processing(image_id)
    if image.import_method == ImportMethod.COPY_IMAGE:
        _copy(image, owner)
        return
    staged = staging_path(image_id)
    disk = staged.with_name(f"{image_id}.disk")
    converted = staged.with_name(f"{image_id}.converted")
    location = image.import_method == ImportMethod.LOCATION
    store = get_store("http") if location else default_store()
    key = str(image.pk)
    beat = Heartbeat(image_id, owner)
    downloads = image.import_method in (ImportMethod.WEB_DOWNLOAD, ImportMethod.LOCATION)
    steps = _plan(image, location, verify=not downloads and bool(image.import_hash_value))
    try:
        fetched = _stage_and_verify(image, staged, beat, steps)
        # Only bytes whose hash matched what the user expected get looked at.
        final, container_format = staged, image.container_format
        if image.container_format == "ova":
            ova.extract_disk(staged, disk)
            final, container_format = disk, "bare"
        size = final.stat().st_size
        progress.Reporter(image_id, "inspecting", size, steps.index("inspecting"), len(steps))
        fmt, virtual_size = check_content(inspect_file(final), image.disk_format, container_format, size)
        virtual_size = check_with_qemu(final, fmt) or virtual_size
        beat.beat()
        disk_format = image.disk_format
        if location:
            # The bytes stay at the URL: record what was checked and hashed, keep no copy.
            services.finish_import(
                image, owner, fetched.result, store.name, "", virtual_size, disk_format, url=image.import_uri
            )
            return
        target = settings.IMAGE_CONVERT_TO
        converted_from = {}
        if target and image.disk_format in settings.IMAGE_CONVERT_FROM and fmt != target:
            beat.beat(force=True)
            reporter = progress.Reporter(image_id, "converting", size, steps.index("converting"), len(steps))
            qemu.convert(
                final, fmt, converted, target,
                cancelled=beat.cancelled, progress=reporter.fraction,
                rate_limit=settings.IMAGE_IMPORT_BYTES_PER_SECOND,
            )  # fmt: skip
            # The converted file is new data: it goes through the same checks before it is stored.
            check_content(inspect_file(converted), target, "bare", converted.stat().st_size)
            virtual_size = check_with_qemu(converted, target) or virtual_size
            final, disk_format = converted, target
            converted_from = {SOURCE_FORMAT_PROPERTY: image.disk_format}
        reporter = progress.Reporter(image_id, "storing", final.stat().st_size, len(steps) - 1, len(steps))
        stored = Ingest(
            open_file(final),
            max_bytes=settings.IMAGE_MAX_SIZE,
            on_progress=Pass(beat, reporter),
            inspect=False,
        )
        store.put(key, stored)
        services.finish_import(
            image, owner, stored.result, store.name, key, virtual_size, disk_format,
            container_format=container_format, properties=converted_from,
        )  # fmt: skip
    except Cancelled:
        _discard(store, key, image_id)
        import_tasks.failed(image_id, "Import cancelled: the image was deleted.")
        log.info("Import of image %s was cancelled", image_id)
    except (PipelineError, StoreError, StratusError) as exc:
        _discard(store, key, image_id)
        services.fail_import(image_id, owner, f"Import failed: {exc}")
    finally:
        # After an abort the user may already be uploading into the image again: the staged
        # file is then the new upload's, not this import's.
        uploading = Image.objects.filter(pk=image_id, status=ImageStatus.UPLOADING).exists()
        for path in (disk, converted) if uploading else (staged, disk, converted):
            path.unlink(missing_ok=True)
        progress.clear(image_id)


def _stage_and_verify(image: Image, staged: Path, beat: Heartbeat, steps: list[str]) -> Ingest | None:
    """Bring the bytes into staging (a download, hashed on the way) or, when the user gave an
    expected hash, read the staged ones to check it; a hash the user gave must match here, before
    any inspector or qemu-img sees the data. Staged bytes without an expected hash are not read
    here: the store pass hashes them (see the module's notes)."""
    expected = (image.import_hash_algo, image.import_hash_value) if image.import_hash_value else None
    image_id = str(image.pk)
    if image.import_method in (ImportMethod.WEB_DOWNLOAD, ImportMethod.LOCATION):
        download = open_url(image.import_uri)
        reporter = progress.Reporter(image_id, "downloading", download.length or 0)
        ingest = Ingest(
            download.chunks(),
            max_bytes=settings.IMAGE_MAX_SIZE,
            on_progress=Pass(beat, reporter, then=Reserver(image, staging=True)),
            inspect=False,
            expected_hash=expected,
        )
        write_staging(image.pk, ingest)
        return ingest
    if not staged.is_file():
        raise ImageRejected("The staged data is missing; stage the image again.")
    if expected is None:
        return None
    reporter = progress.Reporter(image_id, "hashing", staged.stat().st_size, 0, len(steps))
    ingest = Ingest(
        open_file(staged),
        max_bytes=settings.IMAGE_MAX_SIZE,
        on_progress=Pass(beat, reporter),
        inspect=False,
        expected_hash=expected,
    )
    ingest.consume()
    return ingest


def _discard(store, key: str, image_id: str) -> None:
    if ImageLocation.objects.filter(image_id=image_id, store=store.name).exists():
        return  # the data belongs to a finished image (a duplicate delivery); keep it
    try:
        store.delete(key)
    except StoreError:
        log.warning("Could not remove partial data of image %s", image_id)


def _copy(image: Image, owner: str) -> None:
    beat = Heartbeat(str(image.pk), owner)
    source = ImageLocation.objects.filter(image=image).first()
    copied: list[str] = []
    try:
        if source is None:
            raise ImageRejected("The image has no data to copy.")
        for name in image.import_stores:
            target = get_store(name)
            if ImageLocation.objects.filter(image=image, store=name).exists():
                continue
            ingest = Ingest(
                # An HTTP location is read from its URL (checked again on every fetch).
                get_store(source.store).get(source.data_key),
                max_bytes=settings.IMAGE_MAX_SIZE,
                on_progress=beat,
                inspect=False,
            )
            target.put(str(image.pk), ingest)
            copied.append(name)
            if ingest.result.os_hash_value != image.os_hash_value:
                raise ImageRejected(f"The copy to store {name} does not match the image's hash.")
        services.finish_copy(image, owner, copied, str(image.pk))
    except (PipelineError, StoreError, StratusError) as exc:
        for name in copied:
            get_store(name).delete(str(image.pk))
        services.fail_import(str(image.pk), owner, f"Copy failed: {exc}")
