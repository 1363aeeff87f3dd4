"""A volume's metadata (Cinder's ``/volumes/{id}/metadata``) and its image metadata (the
``os-set_image_metadata`` / ``os-unset_image_metadata`` actions). Each change reads and writes the
row under a lock in one transaction, so two requests merging items never lose one another's."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from dashboard.exceptions import BadRequest, NotFound
from instances.models import Volume

MAX_LENGTH = 255


def check_metadata(value: Any, field: str = "metadata") -> dict[str, str]:
    """Cinder's metadata schema: an object of string keys (1-255 characters) to strings (≤255)."""
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid input received: {field} must be an object.")
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_LENGTH:
            raise BadRequest(f"Invalid input received: {field} keys must be 1 to {MAX_LENGTH} characters.")
        if not isinstance(item, str) or len(item) > MAX_LENGTH:
            raise BadRequest(
                f"Invalid input received: the value of {field} key {key!r} must be a string of at most "
                f"{MAX_LENGTH} characters."
            )
    return value


def _change(volume: Volume, column: str, change) -> dict[str, str]:
    with transaction.atomic():
        row = Volume.objects.select_for_update().filter(pk=volume.pk, deleted=False).first()
        if row is None:
            raise NotFound(f"Volume {volume.pk} could not be found.")
        current = dict(getattr(row, column) or {})
        updated = change(current)
        Volume.objects.filter(pk=volume.pk).update(**{column: updated, "updated_at": timezone.now()})
    setattr(volume, column, updated)
    return updated


def set_metadata(volume: Volume, items: dict[str, str], *, replace: bool) -> dict[str, str]:
    """Merge ``items`` into the metadata (POST, PUT of one item), or make them all of it (PUT)."""
    check_metadata(items)
    return _change(volume, "metadata", lambda current: dict(items) if replace else {**current, **items})


def delete_metadata_item(volume: Volume, key: str) -> None:
    def drop(current: dict) -> dict:
        if key not in current:
            raise NotFound(f"Metadata item {key} could not be found.")
        current.pop(key)
        return current

    _change(volume, "metadata", drop)


def set_image_metadata(volume: Volume, items: dict[str, str]) -> dict[str, str]:
    check_metadata(items)
    return _change(volume, "volume_image_metadata", lambda current: {**current, **items})


def unset_image_metadata(volume: Volume, key: str) -> None:
    def drop(current: dict) -> dict:
        if key not in current:
            raise NotFound(f"Glance metadata for volume {volume.pk} with key {key} could not be found.")
        current.pop(key)
        return current

    _change(volume, "volume_image_metadata", drop)
