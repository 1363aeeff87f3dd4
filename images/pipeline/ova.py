"""OVA: a tar holding an OVF descriptor and the disk. We keep the disk and nothing else.

The tar is read as a stream (``r|``: members in order, no seeking, no index held in memory) and
the disk is copied to a file whose path the server chose; member names are never used as paths.
Links, devices and a second disk are refused (one disk per image, as Glance's OVA import)."""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from django.conf import settings

from images.pipeline.errors import ImageRejected, TooLarge
from images.stores.filesystem import write_file

DISK_SUFFIXES = {".vmdk", ".qcow2", ".img", ".raw", ".vhd", ".vhdx", ".vdi", ".iso"}
DESCRIPTOR_SUFFIXES = {".ovf", ".mf", ".cert"}


def extract_disk(ova: Path, target: Path) -> str:
    """Copy the OVA's one disk to ``target``; returns the member's name (for messages only)."""
    found = None
    try:
        with tarfile.open(ova, mode="r|") as tar:
            for member in tar:
                suffix = PurePosixPath(member.name).suffix.lower()
                if not member.isreg():
                    if member.isdir():
                        continue
                    raise ImageRejected("The OVA holds links or special files; refused.")
                if suffix in DESCRIPTOR_SUFFIXES:
                    continue
                if suffix not in DISK_SUFFIXES:
                    raise ImageRejected(f"The OVA holds an unexpected file type {suffix or '(none)'!r}.")
                if found is not None:
                    raise ImageRejected("The OVA holds more than one disk; only one is supported.")
                if member.size > settings.IMAGE_MAX_SIZE:
                    raise TooLarge(
                        f"The disk in the OVA is larger than the limit of {settings.IMAGE_MAX_SIZE} bytes."
                    )
                source = tar.extractfile(member)
                write_file(target, iter(lambda src=source: src.read(settings.IMAGE_CHUNK_SIZE), b""))
                found = member.name
    except tarfile.TarError as exc:
        target.unlink(missing_ok=True)
        raise ImageRejected("The OVA is not a valid tar archive.") from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if found is None:
        raise ImageRejected("The OVA holds no disk image.")
    return found
