"""PATCH /v2/images/{id}: both Glance json-patch media types, applied under the same rules as create."""

from __future__ import annotations

from rest_framework.parsers import JSONParser

from dashboard.exceptions import BadRequest, Conflict, Forbidden
from dashboard.policy import authorize
from images import services
from images.api import fields
from images.choices import ImageStatus
from images.policies import target

V21 = "application/openstack-images-v2.1-json-patch"
V20 = "application/openstack-images-v2.0-json-patch"


class PatchV21Parser(JSONParser):
    media_type = V21


class PatchV20Parser(JSONParser):
    media_type = V20


def operations(body, media_type: str) -> list[tuple[str, str, object]]:
    """Normalise to (op, name, value). v2.1 is RFC 6902 ({"op","path","value"}); v2.0 is draft 4
    ({"replace": "/path", "value": …})."""
    if not isinstance(body, list):
        raise BadRequest("A JSON patch must be a list of operations.")
    out = []
    for item in body:
        if not isinstance(item, dict):
            raise BadRequest("Each patch operation must be an object.")
        if media_type.startswith(V21):
            op, path = item.get("op"), item.get("path")
        else:
            keys = [k for k in ("add", "replace", "remove") if k in item]
            if len(keys) != 1:
                raise BadRequest("Each operation needs exactly one of add, replace or remove.")
            op, path = keys[0], item[keys[0]]
        if op not in ("add", "replace", "remove"):
            raise BadRequest(f"Unsupported patch operation {op!r}.")
        if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1 or len(path) < 2:
            raise BadRequest(f"Invalid patch path {path!r}.")
        if op != "remove" and "value" not in item:
            raise BadRequest(f"Operation {op} needs a value.")
        name = path[1:].replace("~1", "/").replace("~0", "~")
        out.append((op, name, item.get("value")))
    return out


def apply(ctx, image, ops) -> object:
    authorize(ctx, "modify_image", target(ctx, image))
    changed: dict = {}
    props = dict(image.properties)
    tags = None
    for op, name, value in ops:
        fields.refuse_reserved(name)
        if name == "tags":
            if op == "remove":
                raise Forbidden("tags cannot be removed; replace them with an empty list.")
            tags = fields.check_tags(value)
        elif name in fields.WRITABLE:
            if op == "remove":
                raise Forbidden(f"Attribute '{name}' cannot be removed.")
            value = fields.clean_attribute(name, value)
            if name in ("disk_format", "container_format") and image.status != ImageStatus.QUEUED:
                raise Forbidden(f"Attribute {name} can be only replaced for a queued image.")
            if name == "owner" and not ctx.is_admin and value != image.owner:
                raise Forbidden("Only an administrator can change the owner of an image.")
            if name == "visibility":
                fields.authorize_visibility(ctx, image, value)
            changed[name] = value
        else:
            present = name in props and fields.readable(ctx, name)
            if op == "remove":
                if not present:
                    raise Conflict(f"Property {name} does not exist.")
                fields.protect(ctx, name, "delete")
                del props[name]
            else:
                if op == "replace" and not present:
                    raise Conflict(f"Property {name} does not exist.")
                fields.protect(ctx, name, "update" if present else "create", readable_before=present)
                props[name] = fields.clean_property(name, value)
    fields.check_property_count(props)
    image = services.update_image(image, changed, props)
    if tags is not None:
        services.set_tags(image, tags)
    return image
