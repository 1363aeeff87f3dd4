"""Image JSON in and out: which attributes exist, which are read-only, and who may set what."""

from __future__ import annotations

from datetime import UTC, timedelta

import orjson
from django.conf import settings
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import HttpResponse

from dashboard.exceptions import BadRequest, Forbidden
from dashboard.policy import authorize
from images import protections
from images.choices import ContainerFormat, DiskFormat, ImageStatus, Visibility
from images.policies import target
from images.quotas import OverQuota

READ_ONLY = {
    "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size", "created_at",
    "updated_at", "self", "file", "schema", "direct_url", "locations", "stores",
}  # fmt: skip
WRITABLE = {"name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "disk_format",
            "container_format", "owner"}  # fmt: skip
RESERVED_PREFIX = "os_glance"
_ZERO = timedelta(0)


def isotime(dt) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_json(image, ctx, tags: list[str] | None = None, stores: list[str] | None = None) -> dict:
    """The Glance image document. Lists pass ``tags`` and ``stores`` fetched for the whole page."""
    pid = str(image.pk)
    body = {
        "id": pid,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "owner": image.owner,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "created_at": isotime(image.created_at),
        "updated_at": isotime(image.updated_at),
        "tags": tags if tags is not None else [t.value for t in image.tag_set.all()],
        "self": f"/v2/images/{pid}",
        "file": f"/v2/images/{pid}/file",
        "schema": "/v2/schemas/image",
    }
    rules = protections.active()
    for key, value in image.properties.items():
        if key not in body and (rules is None or rules.allowed(ctx, key, "read")):
            body[key] = value
    if image.reason and image.status in (ImageStatus.QUEUED, ImageStatus.KILLED):
        body.setdefault("os_glance_failed_import", image.reason)
    if image.status in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED):
        if stores is None:
            stores = [loc.store for loc in image.locations.all()]
        body["stores"] = ",".join(sorted(set(stores)))
    return body


def _text(column: str) -> Cast:
    # A timestamp read as text: the SQLite driver would otherwise parse every one into a datetime
    # only for list_row to print it again (a tenth of a 1000-image page).
    return Cast(column, output_field=TextField())


# The columns a list row is built from, in this order (see list_row).
LIST_COLUMNS = (
    "id", "name", "status", "visibility", "protected", "os_hidden", "owner", "checksum", "os_hash_algo",
    "os_hash_value", "size", "virtual_size", "min_disk", "min_ram", "disk_format", "container_format",
    _text("created_at"), _text("updated_at"), "properties", "reason",
)  # fmt: skip
_FAILED_STATES = (ImageStatus.QUEUED, ImageStatus.KILLED)
_DATA_STATES = (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED)


class ReadableProperties:
    """Property protections for one request: each key's read rule is decided once, not per row."""

    def __init__(self, ctx):
        self.ctx, self.rules, self.known = ctx, protections.active(), {}

    def __call__(self, key: str) -> bool:
        if self.rules is None:
            return True
        allowed = self.known.get(key)
        if allowed is None:
            allowed = self.known[key] = self.rules.allowed(self.ctx, key, "read")
        return allowed


def _utc(value) -> str:
    """A timestamp column as Glance prints it: text or a naive datetime in UTC from SQLite, an
    aware datetime from PostgreSQL."""
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}Z"
    offset = value.utcoffset()
    # Naive values come from SQLite's own converter and are UTC, as Django stored them.
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if offset is None or offset == _ZERO else isotime(value)


def uuid_text(value) -> str:
    """An id column as text: SQLite stores 32 hex digits, PostgreSQL returns a UUID."""
    if isinstance(value, str) and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)


def list_row(row: tuple, tags: list[str], stores: list[str], readable: ReadableProperties) -> dict:
    """The same document as image_json, built from a LIST_COLUMNS row."""
    (pk, name, status, visibility, protected, os_hidden, owner, checksum, os_hash_algo, os_hash_value,
     size, virtual_size, min_disk, min_ram, disk_format, container_format, created_at, updated_at,
     properties, reason) = row  # fmt: skip
    pid = uuid_text(pk)
    if isinstance(properties, str | bytes):
        properties = orjson.loads(properties)
    body = {
        "id": pid,
        "name": name,
        "status": status,
        "visibility": visibility,
        "protected": bool(protected),
        "os_hidden": bool(os_hidden),
        "owner": owner,
        "checksum": checksum,
        "os_hash_algo": os_hash_algo,
        "os_hash_value": os_hash_value,
        "size": size,
        "virtual_size": virtual_size,
        "min_disk": min_disk,
        "min_ram": min_ram,
        "disk_format": disk_format,
        "container_format": container_format,
        "created_at": _utc(created_at),
        "updated_at": _utc(updated_at),
        "tags": tags,
        "self": f"/v2/images/{pid}",
        "file": f"/v2/images/{pid}/file",
        "schema": "/v2/schemas/image",
    }
    for key, value in properties.items():
        if key not in body and readable(key):
            body[key] = value
    if reason and status in _FAILED_STATES:
        body.setdefault("os_glance_failed_import", reason)
    if status in _DATA_STATES:
        body["stores"] = ",".join(sorted(set(stores)))
    return body


def json_response(body) -> HttpResponse:
    """JSON rendered by orjson, bypassing DRF's renderer: for large lists most of the time went
    into json.dumps."""
    return HttpResponse(orjson.dumps(body), content_type="application/json")


def _check_choice(name: str, value, choices) -> None:
    if value is not None and value not in choices:
        raise BadRequest(f"Invalid value {value!r} for {name}; expected one of {', '.join(choices)}.")


def clean_attribute(name: str, value):
    """Type-check one base attribute; returns the value to store."""
    if name == "name":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise BadRequest("name must be a string of at most 255 characters.")
    elif name in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise BadRequest(f"{name} must be true or false.")
    elif name in ("min_disk", "min_ram"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise BadRequest(f"{name} must be a non-negative integer.")
    elif name == "visibility":
        _check_choice(name, value, Visibility.values)
    elif name == "disk_format":
        _check_choice(name, value, DiskFormat.values)
    elif name == "container_format":
        _check_choice(name, value, ContainerFormat.values)
    elif name == "owner" and value is not None and (not isinstance(value, str) or len(value) > 64):
        raise BadRequest("owner must be a project id.")
    return value


def clean_property(name: str, value) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= 255:
        raise BadRequest("Property names are strings of 1 to 255 characters.")
    if not isinstance(value, str) or len(value) > 65535:
        raise BadRequest(f"Property {name!r} must have a string value.")
    return value


def refuse_reserved(name: str) -> None:
    if name in READ_ONLY or name == "id":
        raise Forbidden(f"Attribute '{name}' is read-only.")
    if name.startswith(RESERVED_PREFIX):
        raise Forbidden(f"Attribute '{name}' is reserved.")


def check_property_count(properties: dict) -> None:
    if len(properties) > settings.IMAGE_PROPERTY_QUOTA:
        raise OverQuota(f"An image may have at most {settings.IMAGE_PROPERTY_QUOTA} properties.")


def check_tags(tags) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 255 for t in tags):
        raise BadRequest("tags must be a list of strings of at most 255 characters.")
    if len(set(tags)) > settings.IMAGE_TAG_QUOTA:
        raise OverQuota(f"An image may have at most {settings.IMAGE_TAG_QUOTA} tags.")
    return list(dict.fromkeys(tags))


def authorize_visibility(ctx, image, visibility: str | None) -> None:
    if visibility == Visibility.PUBLIC:
        authorize(ctx, "publicize_image", target(ctx, image))
    elif visibility == Visibility.COMMUNITY:
        authorize(ctx, "communitize_image", target(ctx, image))


def protect(ctx, name: str, op: str, *, readable_before: bool = True) -> None:
    """Property protections: create for new (or unreadable) keys, update/delete for present ones."""
    rules = protections.active()
    if rules is None:
        return
    if op != "create" and not readable_before:
        op = "create"
    if not rules.allowed(ctx, name, op):
        raise Forbidden(f"Property '{name}' is protected.")


def readable(ctx, name: str) -> bool:
    rules = protections.active()
    return rules is None or rules.allowed(ctx, name, "read")
