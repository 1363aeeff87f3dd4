"""Server actions that replace or move an instance's disks: ``resize``, ``confirmResize``,
``revertResize``, ``rebuild``, ``rescue`` and ``unrescue`` (bodies and answers as Nova's api-ref).
Mixed into the servers API's action view, which dispatches by the body's key."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from rest_framework.response import Response

from dashboard.api.schemas import boolean, invalid, resource_name
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest
from dashboard.policy import authorize, can
from flavors.models import Flavor
from images.models import Image
from instances import policies
from instances.api import server_json, server_schemas
from instances.models import Instance
from instances.services import live_migration, rebuild, resize

# action body key → handler method of DiskOpsActions
HANDLERS = {
    "resize": "_resize",
    "confirmResize": "_confirm_resize",
    "revertResize": "_revert_resize",
    "rebuild": "_rebuild",
    "rescue": "_rescue",
    "unrescue": "_unrescue",
    "os-migrateLive": "_migrate_live",
}


def _ref(value: Any, field: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value).strip() == "":
        raise invalid(field, value, "It must be a non-empty string.")
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def _only(data: dict, allowed: set[str], action: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise BadRequest(
            f"Invalid input for field/attribute {action}. Additional properties are not allowed "
            f"({', '.join(repr(e) for e in extra)} {'was' if len(extra) == 1 else 'were'} unexpected)"
        )


def _null_body(body: dict, name: str) -> None:
    """confirmResize, revertResize and unrescue take nothing: null, or an empty object as Tempest
    and older clients send (Nova has no schema for them)."""
    if body[name] not in (None, {}):
        raise invalid(name, body[name], "It must be null or an empty object.")


def rebuild_request(data: dict, version) -> tuple[str, rebuild.RebuildRequest]:
    """The image ref and the changes of a rebuild body, per microversion."""
    allowed = {"imageRef", "name", "metadata", "adminPass", "preserve_ephemeral", "OS-DCF:diskConfig"}
    if version >= "2.19":
        allowed.add("description")
    if version >= "2.54":
        allowed.add("key_name")
    if version >= "2.57":
        allowed.add("user_data")
    _only(data, allowed, "rebuild")
    if "imageRef" not in data:
        raise BadRequest("Invalid input for field/attribute imageRef. 'imageRef' is a required property")
    change = rebuild.RebuildRequest()
    if "name" in data:
        change.name = resource_name(data)
    if "metadata" in data:
        metadata = data["metadata"]
        if not isinstance(metadata, dict) or any(
            not isinstance(k, str) or not isinstance(v, str) or not 0 < len(k) <= 255 or len(v) > 255
            for k, v in metadata.items()
        ):
            raise invalid("metadata", metadata, "Keys and values must be strings of at most 255 characters.")
        change.metadata = metadata
    if "description" in data:
        description = data["description"]
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise invalid(
                "description", description, "It must be a string of at most 255 characters or null."
            )
        change.description = description
    if "key_name" in data:
        key_name = data["key_name"]
        if key_name is not None and (not isinstance(key_name, str) or not 0 < len(key_name) <= 255):
            raise invalid("key_name", key_name, "It must be the name of one of your key pairs, or null.")
        change.key_name = key_name
    if "user_data" in data:
        user_data = data["user_data"]
        if user_data is not None and not isinstance(user_data, str):
            raise invalid("user_data", "...", "It must be a base64-encoded string or null.")
        change.user_data = user_data
    if "preserve_ephemeral" in data:
        change.preserve_ephemeral = boolean("preserve_ephemeral", data["preserve_ephemeral"])
    change.disk_config = server_schemas.disk_config(data)
    return _ref(data["imageRef"], "imageRef"), change


def _visible_image(ctx: RequestContext, image_ref: str):
    image = Image.objects.visible_to(ctx).filter(pk=_uuid_or_none(image_ref)).first()
    if image is None:
        raise BadRequest(f"Image {image_ref} could not be found.")
    return image


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class DiskOpsActions:
    """Handlers for ServerActionView (``request_id`` and ``get_server`` come from the servers API)."""

    def _resize(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.SERVERS_RESIZE, {"project_id": instance.project_id})
        data = body["resize"]
        if not isinstance(data, dict):
            raise invalid("resize", data, "It must be an object.")
        _only(data, {"flavorRef", "OS-DCF:diskConfig"}, "resize")
        if "flavorRef" not in data:
            raise BadRequest(
                "Invalid input for field/attribute flavorRef. 'flavorRef' is a required property"
            )
        disk_config = server_schemas.disk_config(data)
        ref = _ref(data["flavorRef"], "flavorRef")
        flavor = Flavor.objects.launchable_by(ctx).filter(pk=ref).prefetch_related("extra_specs").first()
        if flavor is None:
            raise BadRequest(f"Flavor {ref} could not be found.")
        resize.begin_resize(ctx, instance, flavor, self.request_id(request), disk_config=disk_config)
        return self.empty(202)

    def _confirm_resize(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.SERVERS_CONFIRM_RESIZE, {"project_id": instance.project_id})
        _null_body(body, name)
        resize.confirm_resize(ctx, instance, self.request_id(request))
        return self.empty(204)

    def _revert_resize(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.SERVERS_REVERT_RESIZE, {"project_id": instance.project_id})
        _null_body(body, name)
        resize.begin_revert(ctx, instance, self.request_id(request))
        return self.empty(202)

    def _rebuild(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.SERVERS_REBUILD, {"project_id": instance.project_id})
        data = body["rebuild"]
        if not isinstance(data, dict):
            raise invalid("rebuild", data, "It must be an object.")
        image_ref, change = rebuild_request(data, request.api_version)
        image = _visible_image(ctx, image_ref)
        rebuild.begin_rebuild(ctx, instance, image, change, self.request_id(request))
        instance = Instance.objects.for_api().with_volumes().get(pk=instance.pk)
        attrs = can(ctx, policies.EXTENDED_SERVER_ATTRIBUTES, {"project_id": instance.project_id})
        server = server_json.changed_server(
            request, instance, admin_attrs=attrs, admin=ctx.is_admin, rebuild=True
        )
        server["adminPass"] = data.get("adminPass") or secrets.token_urlsafe(9)
        return Response({"server": server}, status=202)

    def _rescue(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.RESCUE, {"project_id": instance.project_id})
        data = body["rescue"] or {}
        if not isinstance(data, dict):
            raise invalid("rescue", data, "It must be an object or null.")
        _only(data, {"adminPass", "rescue_image_ref"}, "rescue")
        if data.get("rescue_image_ref"):
            image = _visible_image(ctx, _ref(data["rescue_image_ref"], "rescue_image_ref"))
        else:
            image = (
                Image.objects.filter(pk=_uuid_or_none(instance.image_id)).first()
                if instance.image_id
                else None
            )
            if image is None:
                raise BadRequest(f"Image {instance.image_id} could not be found; give a rescue_image_ref.")
        rebuild.begin_rescue(ctx, instance, image, self.request_id(request))
        return Response({"adminPass": data.get("adminPass") or secrets.token_urlsafe(9)})

    def _unrescue(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.UNRESCUE, {"project_id": instance.project_id})
        _null_body(body, name)
        rebuild.begin_unrescue(ctx, instance, self.request_id(request))
        return self.empty(202)

    def _migrate_live(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        """Nova's os-migrateLive: ``host`` (null: the scheduler picks), ``block_migration`` (true, or
        "auto" from 2.25; false is refused, as hosts share no storage); ``disk_over_commit`` (before
        2.25) and ``force`` (2.30–2.67) are accepted and change nothing: the target host is always
        checked (claimed) as the scheduler would."""
        authorize(ctx, policies.MIGRATE_LIVE, {"project_id": instance.project_id})
        data = body[name]
        if not isinstance(data, dict):
            raise invalid(name, data, "It must be an object.")
        version = request.api_version
        allowed = {"host", "block_migration"}
        allowed |= {"disk_over_commit"} if version < "2.25" else set()
        allowed |= {"force"} if "2.30" <= version < "2.68" else set()
        _only(data, allowed, name)
        for field in ("block_migration", "host"):  # host is required even when null
            if field not in data:
                raise BadRequest(
                    f"Invalid input for field/attribute os-migrateLive. '{field}' is a required property"
                )
        block = data["block_migration"]
        if block != "auto" or version < "2.25":  # "auto" came with 2.25
            block = boolean("block_migration", block)
        if "force" in data:
            boolean("force", data["force"])
        host = data.get("host")
        if host is not None and (not isinstance(host, str) or not host.strip()):
            raise invalid("host", host, "It must be a non-empty string or null.")
        live_migration.begin(ctx, instance, host, block, self.request_id(request))
        return self.empty(202)
