"""What a user changes on a server without touching the guest: name and description (Nova's
server update), metadata (Nova's server metadata, limited by the metadata_items quota) and tags
(Nova's server tags, 2.26). Each change is one transaction under the row's lock."""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from dashboard.exceptions import BadRequest, Conflict, Forbidden, NotFound
from instances.choices import VmState
from instances.models import Instance, InstanceTag
from instances.services import quotas
from instances.services.locks import check_not_locked

MAX_TAGS = 50  # Nova's instance.MAX_TAG_COUNT
MAX_TAG_LENGTH = 60
# Nova's parameter_types.metadata: keys of these characters, keys and values ≤255 characters.
METADATA_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
MAX_METADATA_VALUE = 255


def _locked_row(instance: Instance) -> Instance:
    row = Instance.objects.select_for_update().filter(pk=instance.pk, deleted=False).first()
    if row is None:
        raise NotFound(f"Instance {instance.pk} could not be found.")
    return row


# --- name and description ----------------------------------------------------------------------


_UNCHANGED = object()


def auto_disk_config(image_properties: dict, requested: str | None) -> bool:
    """AUTO (True) or MANUAL for a server from an image with these properties: what the request
    asks for, else the image's ``auto_disk_config`` property; an image whose property says
    ``disabled`` refuses AUTO (Nova's AutoDiskConfigDisabledByImage)."""
    from_image = str((image_properties or {}).get("auto_disk_config", "")).strip().lower()
    if requested is None:
        return from_image in ("1", "t", "true", "on", "y", "yes")
    if requested == "AUTO" and from_image == "disabled":
        raise BadRequest("Requested image has automatic disk resize disabled.")
    return requested == "AUTO"


def update(
    instance: Instance,
    *,
    name: str | None = None,
    description: str | None = None,
    access_ip_v4=_UNCHANGED,
    access_ip_v6=_UNCHANGED,
    disk_config: str | None = None,
    hostname: str | None = None,
) -> Instance:
    """Rename and/or describe the server, or set its access addresses, disk config or guest host
    name; None leaves the name, description, disk config and host name as they are, and clears an
    access address."""
    fields: dict = {}
    if disk_config is not None:
        fields["auto_disk_config"] = auto_disk_config(instance.image_properties, disk_config)
    if hostname is not None:
        fields["hostname"] = hostname
    if access_ip_v4 is not _UNCHANGED:
        fields["access_ip_v4"] = access_ip_v4
    if access_ip_v6 is not _UNCHANGED:
        fields["access_ip_v6"] = access_ip_v6
    if name is not None:
        fields["name"] = name
    if description is not None:
        fields["description"] = description
    if fields:
        fields["updated_at"] = timezone.now()
        with transaction.atomic():
            Instance.objects.filter(pk=instance.pk, deleted=False).update(**fields)
        for key, value in fields.items():
            setattr(instance, key, value)
    return instance


# --- metadata ----------------------------------------------------------------------------------


def check_metadata(metadata, field: str = "metadata") -> dict:
    """Nova's schema for metadata: an object of string keys (1-255 of ``[a-zA-Z0-9-_:. ]``) to
    strings of at most 255 characters. 400 naming what is wrong."""
    prefix = f"Invalid input for field/attribute {field}."
    if not isinstance(metadata, dict):
        raise BadRequest(f"{prefix} Value: {metadata}. {metadata!r} is not of type 'object'")
    for key, value in metadata.items():
        if not isinstance(key, str) or not METADATA_KEY.match(key):
            raise BadRequest(
                f"{prefix} Value: {metadata}. Additional properties are not allowed ({key!r} was unexpected)"
            )
        if not isinstance(value, str):
            raise BadRequest(
                f"Invalid input for field/attribute {key}. Value: {value}. {value!r} is not of type 'string'"
            )
        if len(value) > MAX_METADATA_VALUE:
            raise BadRequest(
                f"Invalid input for field/attribute {key}. Value: {value}. {value!r} is too long"
            )
    return metadata


def check_metadata_quota(metadata: dict) -> None:
    """Nova's metadata_items quota (403), as /limits reports it in maxServerMeta."""
    allowed = quotas.defaults()["metadata_items"]
    if allowed >= 0 and len(metadata) > allowed:
        raise Forbidden(f"Maximum number of metadata items exceeds {allowed}")


def set_metadata(ctx, instance: Instance, metadata: dict, *, replace: bool) -> dict:
    """Merge ``metadata`` into the server's (POST, PUT of one key) or replace it all (PUT)."""
    check_not_locked(ctx, instance)
    with transaction.atomic():
        row = _locked_row(instance)
        new = dict(metadata) if replace else {**row.metadata, **metadata}
        check_metadata_quota(new)
        Instance.objects.filter(pk=row.pk).update(metadata=new, updated_at=timezone.now())
    instance.metadata = new
    return new


def delete_metadata_item(ctx, instance: Instance, key: str) -> None:
    check_not_locked(ctx, instance)
    with transaction.atomic():
        row = _locked_row(instance)
        if key not in row.metadata:
            raise NotFound("Metadata item was not found")
        new = {k: v for k, v in row.metadata.items() if k != key}
        Instance.objects.filter(pk=row.pk).update(metadata=new, updated_at=timezone.now())
    instance.metadata = new


# --- tags --------------------------------------------------------------------------------------


def tag_error(tag) -> str | None:
    """Why ``tag`` is not a valid tag (Nova's parameter_types.tag), or None."""
    if not isinstance(tag, str):
        return f"{tag!r} is not of type 'string'"
    if not tag:
        return f"{tag!r} is too short"
    if len(tag) > MAX_TAG_LENGTH:
        return f"{tag!r} is too long"
    if "," in tag or "/" in tag:
        return f"{tag!r} does not match '^[^,/]*$'"
    return None


def check_tags(tags, field: str = "tags") -> list[str]:
    if not isinstance(tags, list):
        raise BadRequest(
            f"Invalid input for field/attribute {field}. Value: {tags}. {tags!r} is not of type 'array'"
        )
    for tag in tags:
        reason = tag_error(tag)
        if reason:
            raise BadRequest(f"Invalid input for field/attribute {field}. Value: {tags}. {reason}")
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"Invalid input for field/attribute {field}. Value: {tags}. {tags!r} is too long")
    return list(dict.fromkeys(tags))


# Nova's server tags change only on a server in one of these states (server_tags.py).
TAGGABLE_VM_STATES = (VmState.ACTIVE, VmState.PAUSED, VmState.SUSPENDED, VmState.STOPPED)


def check_taggable(instance: Instance, action: str) -> None:
    if instance.vm_state not in TAGGABLE_VM_STATES:
        raise Conflict(
            f"Cannot '{action}' instance {instance.pk} while it is in vm_state {instance.vm_state}"
        )


def _too_many() -> BadRequest:
    return BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")


def replace_tags(instance: Instance, tags: list[str]) -> list[str]:
    with transaction.atomic():
        row = _locked_row(instance)
        InstanceTag.objects.filter(instance=row).delete()
        InstanceTag.objects.bulk_create([InstanceTag(instance=row, tag=t) for t in tags])
        Instance.objects.filter(pk=row.pk).update(updated_at=timezone.now())
    return sorted(tags)


def add_tag(instance: Instance, tag: str) -> bool:
    """Add one tag; False when the server had it already."""
    with transaction.atomic():
        row = _locked_row(instance)
        existing = set(InstanceTag.objects.filter(instance=row).values_list("tag", flat=True))
        if tag in existing:
            return False
        if len(existing) >= MAX_TAGS:
            raise _too_many()
        InstanceTag.objects.create(instance=row, tag=tag)
        Instance.objects.filter(pk=row.pk).update(updated_at=timezone.now())
    return True


def remove_tag(instance: Instance, tag: str) -> None:
    with transaction.atomic():
        row = _locked_row(instance)
        if not InstanceTag.objects.filter(instance=row, tag=tag).delete()[0]:
            raise NotFound(f"Server {instance.pk} has no tag '{tag}'")
        Instance.objects.filter(pk=row.pk).update(updated_at=timezone.now())


def remove_all_tags(instance: Instance) -> None:
    with transaction.atomic():
        row = _locked_row(instance)
        InstanceTag.objects.filter(instance=row).delete()
        Instance.objects.filter(pk=row.pk).update(updated_at=timezone.now())
