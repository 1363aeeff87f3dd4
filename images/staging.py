"""The staging area: where glance-direct uploads and URL downloads wait for their import."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from images.stores.filesystem import write_file


def staging_dir() -> Path:
    path = settings.IMAGE_STAGING_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def staging_path(image_id) -> Path:
    # Named after the image id only: a retried import overwrites its own file, never another's.
    return staging_dir() / str(image_id)


def write_staging(image_id, chunks) -> int:
    """Write chunks to the image's staging file (fsynced); on any error the file is removed."""
    path = staging_path(image_id)
    try:
        written = write_file(path, chunks)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return written
