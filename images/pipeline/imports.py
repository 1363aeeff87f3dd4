"""What a worker does for an import: fetch or read staged bytes, verify, convert, store."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings

from dashboard.exceptions import StratusError
from images import import_tasks, services
from images.choices import ImportMethod
from images.models import Image, ImageLocation
from images.pipeline import ova, qemu
from images.pipeline.errors import ImageRejected, PipelineError
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


class ImportCancelled(PipelineError):
    """The lease was lost: the image was deleted or another worker took over."""


class Heartbeat:
    """Progress hook: renews the lease every few seconds and stops the work once it is lost."""

    def __init__(self, image_id: str, owner: str, then=None):
        self.image_id, self.owner, self.then = image_id, owner, then
        self.interval = max(1.0, settings.IMAGE_IMPORT_LEASE / 4)
        self.last = time.monotonic()

    def __call__(self, total: int) -> None:
        if self.then is not None:
            self.then(total)
        self.beat()

    def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= self.interval:
            self.last = now
            if not services.heartbeat(self.image_id, self.owner):
                raise ImportCancelled("The import was cancelled.")


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
    try:
        fetched = _stage_and_verify(image, staged, beat).result
        # Only bytes whose hash matched what the user expected get looked at.
        final, container_format = staged, image.container_format
        if image.container_format == "ova":
            ova.extract_disk(staged, disk)
            final, container_format = disk, "bare"
        size = final.stat().st_size
        fmt, virtual_size = check_content(inspect_file(final), image.disk_format, container_format, size)
        virtual_size = check_with_qemu(final, fmt) or virtual_size
        disk_format = image.disk_format
        if location:
            # The bytes stay at the URL: record what was checked and hashed, keep no copy.
            services.finish_import(
                image, owner, fetched, store.name, "", virtual_size, disk_format, url=image.import_uri
            )
            return
        target = settings.IMAGE_CONVERT_TO
        converted_from = {}
        if target and image.disk_format in settings.IMAGE_CONVERT_FROM and fmt != target:
            beat.beat(force=True)
            qemu.convert(final, fmt, converted, target)
            # The converted file is new data: it goes through the same checks before it is stored.
            check_content(inspect_file(converted), target, "bare", converted.stat().st_size)
            virtual_size = check_with_qemu(converted, target) or virtual_size
            final, disk_format = converted, target
            converted_from = {SOURCE_FORMAT_PROPERTY: image.disk_format}
        stored = Ingest(open_file(final), max_bytes=settings.IMAGE_MAX_SIZE, on_progress=beat, inspect=False)
        store.put(key, stored)
        services.finish_import(
            image, owner, stored.result, store.name, key, virtual_size, disk_format,
            container_format=container_format, properties=converted_from,
        )  # fmt: skip
    except ImportCancelled:
        _discard(store, key, image_id)
        import_tasks.failed(image_id, "Import cancelled: the image was deleted.")
        log.info("Import of image %s was cancelled", image_id)
    except (PipelineError, StoreError, StratusError) as exc:
        _discard(store, key, image_id)
        services.fail_import(image_id, owner, f"Import failed: {exc}")
    finally:
        for path in (staged, disk, converted):
            path.unlink(missing_ok=True)


def _stage_and_verify(image: Image, staged: Path, beat: Heartbeat) -> Ingest:
    """Bring the bytes into staging (a download) or read the staged ones, hashing them; a hash the
    user gave must match here, before any inspector or qemu-img sees the data."""
    expected = (image.import_hash_algo, image.import_hash_value) if image.import_hash_value else None
    if image.import_method in (ImportMethod.WEB_DOWNLOAD, ImportMethod.LOCATION):
        download = open_url(image.import_uri)
        ingest = Ingest(
            download.chunks(),
            max_bytes=settings.IMAGE_MAX_SIZE,
            on_progress=Heartbeat(str(image.pk), beat.owner, then=Reserver(image, staging=True)),
            inspect=False,
            expected_hash=expected,
        )
        write_staging(image.pk, ingest)
        return ingest
    if not staged.is_file():
        raise ImageRejected("The staged data is missing; stage the image again.")
    ingest = Ingest(
        open_file(staged),
        max_bytes=settings.IMAGE_MAX_SIZE,
        on_progress=beat,
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
