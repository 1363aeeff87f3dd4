"""Server actions that move an instance to another host: ``migrate`` (cold migration, confirmed
or reverted with confirmResize/revertResize) and ``evacuate`` (bodies and answers as Nova's
api-ref). Mixed into the servers API's action view, which dispatches by the body's key."""

from __future__ import annotations

import secrets

from rest_framework.response import Response

from dashboard.api.schemas import boolean, invalid
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest
from dashboard.policy import authorize
from instances import policies
from instances.models import Instance
from instances.services import evacuate, resize

# action body key → handler method of MoveActions
HANDLERS = {
    "migrate": "_migrate",
    "evacuate": "_evacuate",
}


def _host(data: dict, field: str = "host") -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise invalid(field, value, "It must be a host name.")
    return value


def _only(data: dict, allowed: set[str], action: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise BadRequest(
            f"Invalid input for field/attribute {action}. Additional properties are not allowed "
            f"({', '.join(repr(e) for e in extra)} {'was' if len(extra) == 1 else 'were'} unexpected)"
        )


class MoveActions:
    """Handlers for ServerActionView (``request_id`` and ``empty`` come from the servers API)."""

    def _migrate(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        target = {"project_id": instance.project_id}
        authorize(ctx, policies.MIGRATE, target)
        data = body["migrate"]
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise invalid("migrate", data, "It must be null or an object.")
        _only(data, {"host"} if request.api_version >= "2.56" else set(), "migrate")
        host = _host(data)
        if host is not None:
            authorize(ctx, policies.MIGRATE_HOST, target)
        resize.begin_migrate(ctx, instance, host, self.request_id(request))
        return self.empty(202)

    def _evacuate(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.EVACUATE, {"project_id": instance.project_id})
        data = body["evacuate"]
        if not isinstance(data, dict):
            raise invalid("evacuate", data, "It must be an object.")
        version = request.api_version
        allowed = {"host", "adminPass"}
        if version < "2.14":
            allowed.add("onSharedStorage")
        if "2.29" <= version < "2.68":
            allowed.add("force")
        if version >= "2.95":
            allowed.add("targetState")
        _only(data, allowed, "evacuate")
        if version < "2.14" and "onSharedStorage" not in data:
            raise BadRequest(
                "Invalid input for field/attribute onSharedStorage. 'onSharedStorage' is a required property"
            )
        if version < "2.14" and boolean("onSharedStorage", data["onSharedStorage"]):
            raise BadRequest("The disks of a host that is down are lost: evacuate rebuilds from the image.")
        admin_pass = data.get("adminPass")
        if admin_pass is not None and not isinstance(admin_pass, str):
            raise invalid("adminPass", admin_pass, "It must be a string.")
        evacuate.begin_evacuate(ctx, instance, _host(data), self.request_id(request))
        if version >= "2.14":
            return Response(status=200)
        return Response({"adminPass": admin_pass or secrets.token_urlsafe(9)})
