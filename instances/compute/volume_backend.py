"""The one interface to volume storage: qcow2 or raw files in a volume directory.

The directory may be shared between compute hosts (NFS, a cluster file system); a host that
sees it can attach any volume. Every file is written under a temporary name and renamed into
place, so a crash or a second run of the same task never leaves a half-written volume that
looks complete. An image becomes a volume only after passing the image service's own content
checks (format matches disk_format, safety check, qemu-img's second opinion), and qemu-img is
always told the input format.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from images.pipeline.errors import PipelineError
from images.pipeline.ingest import Ingest
from images.pipeline.verify import check_content, check_with_qemu
from images.stores import StoreError, get_store
from instances.virt import disks
from instances.virt.base import VirtError

GiB = 1024**3
CHUNK = 4 * 1024 * 1024


class VolumeBackendError(Exception):
    """Anything the volume back end could not do; the message is meant for the volume's owner."""


class FileVolumeBackend:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _tmp(self, final: Path, suffix: str = "") -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f".{final.name}.{secrets.token_hex(4)}{suffix}.part"

    def visible(self) -> bool:
        """Whether this process can use the volume directory (hosts record it at registration)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.directory, os.W_OK)

    def create_empty(self, path: Path, fmt: str, size_gb: int) -> None:
        tmp = self._tmp(path)
        try:
            disks.create_blank(tmp, size_gb, fmt=fmt)
            os.replace(tmp, path)
        except VirtError as exc:
            raise VolumeBackendError(f"Could not create the volume: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def create_from_image(self, path: Path, fmt: str, size_gb: int, image) -> None:
        """Stream the image out of its store into a temp file (hashing and inspecting on the way),
        check it as the image service does, then convert it into the volume and grow it."""

        location = next(iter(image.locations.all()), None)
        if location is None:
            raise VolumeBackendError(f"Image {image.pk} has no data.")
        staged = self._tmp(path, ".src")
        try:
            store = get_store(location.store)
            ingest = Ingest(store.get(location.data_key), max_bytes=max(image.size or 0, 1))
            with open(staged, "wb") as fh:
                for chunk in ingest:
                    fh.write(chunk)
            if image.os_hash_value and ingest.result.os_hash_value != image.os_hash_value:
                raise VolumeBackendError(f"Image {image.pk} does not match its recorded hash.")
            content, _ = check_content(ingest.result.inspectors, image.disk_format, image.container_format)
            virtual = check_with_qemu(staged, content)
            if virtual > size_gb * GiB:
                raise VolumeBackendError(
                    f"Volume size {size_gb} GiB is smaller than the image's virtual size of {virtual} bytes."
                )
            self._convert_and_grow(staged, content, path, fmt, size_gb)
        except (StoreError, PipelineError, OSError) as exc:
            raise VolumeBackendError(f"Could not copy image {image.pk} into the volume: {exc}") from exc
        finally:
            staged.unlink(missing_ok=True)

    def clone(self, source: Path, source_fmt: str, path: Path, fmt: str, size_gb: int) -> None:
        self._convert_and_grow(source, source_fmt, path, fmt, size_gb)

    def _convert_and_grow(self, source: Path, source_fmt: str, path: Path, fmt: str, size_gb: int) -> None:
        tmp = self._tmp(path)
        try:
            disks.convert(source, source_fmt, tmp, fmt)
            self._resize(tmp, fmt, size_gb)
            os.replace(tmp, path)
        except VirtError as exc:
            raise VolumeBackendError(f"Could not write the volume: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _resize(path: Path, fmt: str, size_gb: int) -> None:
        current = disks.info(path, fmt).virtual_size
        if current < size_gb * GiB:
            disks.resize(path, fmt, size_gb * GiB)

    def extend(self, path: Path, fmt: str, size_gb: int) -> None:
        """Grow a detached volume; running it again with the same size changes nothing."""
        try:
            self._resize(path, fmt, size_gb)
        except VirtError as exc:
            raise VolumeBackendError(f"Could not extend the volume: {exc}") from exc

    def read_as(self, path: Path, fmt: str, target_fmt: str) -> tuple[Path, Iterable[bytes]]:
        """A standalone copy of the volume in ``target_fmt`` and its chunks (for Upload to
        Image); the caller removes the copy."""
        tmp = self._tmp(path, f".{target_fmt}")
        try:
            disks.convert(path, fmt, tmp, target_fmt)
        except VirtError as exc:
            tmp.unlink(missing_ok=True)
            raise VolumeBackendError(f"Could not read the volume: {exc}") from exc

        def chunks() -> Iterable[bytes]:
            with open(tmp, "rb") as fh:
                yield from iter(lambda: fh.read(CHUNK), b"")

        return tmp, chunks()

    def delete(self, path: Path) -> None:
        disks.remove(path)


def backend() -> FileVolumeBackend:

    return FileVolumeBackend(settings.VOLUMES_DIR)
