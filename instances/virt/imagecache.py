"""The per-host cache of base images that root overlays are backed by, of the kernels and
ramdisks (AKI/ARI images) that guests boot directly, and of the ISOs that guests boot from as a
read-only CD-ROM (never a backing file: a guest that boots from an ISO gets a blank root disk).

An entry is ``<root>/<image_id>.base`` (read-only) with ``<image_id>.json`` beside it: the
image's os_hash_value (sha512), disk format, the file's stat stamp when it was verified, and
when it was last used. A fetch streams into a temp file while hashing in the same pass, then the
hash is compared, the content re-inspected (format as declared, safety checks), and only then is
the file renamed into place. Before every use the stamp is compared; if the file changed in any
way (size, mtime, ctime, inode) it is re-hashed, and a file that no longer matches is thrown away
and fetched again, so a poisoned cache entry never reaches a guest.

An image in a format guests do not run on (VMDK, VHD, VHDX, VDI: ``SOURCE_FORMATS``) is fetched and
checked as that format, then converted once to qcow2, which becomes the entry (``base_format``);
its json also records the converted file's own sha512, which re-verifies it from then on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, cast

from instances.virt import disks
from instances.virt.base import SOURCE_FORMATS, VirtError
from instances.virt.state import write_atomic

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024
# Glance's kernel and ramdisk formats: QEMU loads these files with -kernel/-initrd and never parses
# them as disks, so the disk format checks do not apply (a bzImage even looks like a broken MBR);
# the hash alone vouches for them.
BOOT_FILE_FORMATS = ("aki", "ari")
# Read by QEMU as raw bytes through a read-only CD-ROM; checked as an ISO, not as a disk.
CDROM_FORMATS = ("iso",)
IMAGE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
Fetch = Callable[[BinaryIO], None]


class _HashingWriter:
    """A write-only file that feeds sha512 on the way to disk: one pass over the bytes."""

    def __init__(self, fh: BinaryIO):
        self._fh = fh
        self.sha512 = hashlib.sha512()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha512.update(data)
        self.size += len(data)
        return self._fh.write(data)


def _stamp(path: Path) -> dict[str, int]:
    st = path.stat()
    # ctime cannot be set back by a writer (unlike mtime), so a rewrite always shows.
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "ino": st.st_ino}


def _sha512_of(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def base_format(disk_format: str) -> str:
    """The format of the cached entry of an image in ``disk_format``, as QEMU opens it."""
    return "qcow2" if disk_format in SOURCE_FORMATS else disk_format


class ImageCache:
    def __init__(self, root: str | Path, limits: disks.Limits | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.limits = limits

    def base_path(self, image_id: str) -> Path:
        if not IMAGE_ID_RE.match(image_id):
            raise VirtError(f"invalid image id {image_id!r}")
        return self.root / f"{image_id}.base"

    def _meta_path(self, image_id: str) -> Path:
        return self.root / f"{image_id}.json"

    @contextlib.contextmanager
    def _lock(self, image_id: str, blocking: bool = True) -> Iterator[bool]:
        """One fetch per image across workers; flock is per open file, so threads exclude too."""
        with open(self.root / f".{image_id}.lock", "a+b") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def ensure(
        self, image_id: str, expected_sha512: str, disk_format: str, source: Fetch | str | Path
    ) -> Path:
        """The verified cached base for ``image_id``, fetched first if needed. ``source`` is a
        local file (a shared filesystem store) or a function that writes the bytes to the file
        object it is given (a stream from the image API)."""
        path = self.base_path(image_id)
        expected = expected_sha512.lower()
        if not re.match(r"^[0-9a-f]{128}$", expected):
            raise VirtError(f"image {image_id} has no valid sha512 os_hash_value")
        with self._lock(image_id):
            if path.exists():
                if self._still_valid(image_id, expected, disk_format):
                    self._touch(image_id)
                    return path
                log.warning("cached base of image %s does not match its hash; fetching it again", image_id)
                self._remove(image_id)
            self._fetch(image_id, expected, disk_format, source)
            return path

    def _still_valid(self, image_id: str, expected: str, disk_format: str) -> bool:
        path = self.base_path(image_id)
        try:
            meta = json.loads(self._meta_path(image_id).read_text())
        except (FileNotFoundError, ValueError):
            return False
        if meta.get("sha512") != expected or meta.get("disk_format") != disk_format:
            return False
        if meta.get("stamp") == _stamp(path):
            return True
        # A converted entry is checked against its own hash; any other against the image's.
        if not hmac.compare_digest(_sha512_of(path), meta.get("base_sha512", expected)):
            return False
        try:
            self._inspect(path, base_format(disk_format))
        except VirtError:
            return False
        meta["stamp"] = _stamp(path)
        write_atomic(self._meta_path(image_id), json.dumps(meta).encode())
        return True

    def _fetch(self, image_id: str, expected: str, disk_format: str, source: Fetch | str | Path) -> None:
        path = self.base_path(image_id)
        tmp = self.root / f".{image_id}.{os.getpid()}.{time.monotonic_ns()}.part"
        try:
            with open(tmp, "xb") as fh:
                writer = _HashingWriter(cast(BinaryIO, fh))
                if callable(source):
                    source(cast(BinaryIO, writer))
                else:
                    with open(source, "rb") as src:
                        while chunk := src.read(CHUNK):
                            writer.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            actual = writer.sha512.hexdigest()
            if not hmac.compare_digest(actual, expected):
                raise VirtError(
                    f"image {image_id} data does not match its os_hash_value (got sha512 {actual[:16]}…)"
                )
            self._inspect(tmp, disk_format)
            extra = {}
            if disk_format in SOURCE_FORMATS:
                extra = self._convert(tmp, disk_format)
            os.chmod(tmp, 0o444)  # qemu opens backing files read-only; nothing else should write
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        meta = {"sha512": expected, "disk_format": disk_format, "size": writer.size, "stamp": _stamp(path),
                "last_used": time.time(), **extra}  # fmt: skip
        write_atomic(self._meta_path(image_id), json.dumps(meta).encode())

    def _convert(self, tmp: Path, disk_format: str) -> dict:
        """Replace the verified source in ``tmp`` by its qcow2 conversion, checked as any image."""
        converted = tmp.with_name(tmp.name + ".qcow2")
        try:
            disks.convert(tmp, SOURCE_FORMATS[disk_format], converted, "qcow2", limits=self.limits)
            self._inspect(converted, "qcow2")
            os.replace(converted, tmp)
        finally:
            converted.unlink(missing_ok=True)
        return {"base_format": "qcow2", "base_sha512": _sha512_of(tmp)}

    def _inspect(self, path: Path, disk_format: str) -> None:
        if disk_format in CDROM_FORMATS:
            disks.inspect_cdrom(path)
        elif disk_format not in BOOT_FILE_FORMATS:
            disks.inspect(path, disk_format, limits=self.limits)

    def _touch(self, image_id: str) -> None:
        meta_path = self._meta_path(image_id)
        meta = json.loads(meta_path.read_text())
        meta["last_used"] = time.time()
        write_atomic(meta_path, json.dumps(meta).encode())

    def _remove(self, image_id: str) -> None:
        self.base_path(image_id).unlink(missing_ok=True)
        self._meta_path(image_id).unlink(missing_ok=True)

    def cached(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.base"))

    def prune(self, max_age: float | timedelta, in_use: set[str]) -> list[str]:
        """Remove cached bases that no instance on this host uses and that were last used more
        than ``max_age`` ago; an entry being fetched right now is left alone. Lock files stay:
        unlinking one while another worker waits on it would let two workers in at once."""
        seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else float(max_age)
        now = time.time()
        removed = []
        for image_id in self.cached():
            if image_id in in_use:
                continue
            with self._lock(image_id, blocking=False) as locked:
                if not locked:
                    continue
                try:
                    last_used = json.loads(self._meta_path(image_id).read_text())["last_used"]
                except (FileNotFoundError, ValueError, KeyError):
                    last_used = self.base_path(image_id).stat().st_mtime
                if now - last_used > seconds:
                    self._remove(image_id)
                    removed.append(image_id)
        return removed
