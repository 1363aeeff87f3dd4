"""Nova's server metadata: ``/servers/{id}/metadata`` (GET; POST merges, PUT replaces) and
``/servers/{id}/metadata/{key}`` (GET, PUT, DELETE). Limited by the metadata_items quota, which
/limits reports as maxServerMeta."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from dashboard.api.compute import ComputeView
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize
from instances import policies
from instances.api.servers import get_server
from instances.services import server_edit


def _body(data: Any, key: str) -> dict:
    if not isinstance(data, dict) or key not in data:
        raise BadRequest(f"Invalid input for field/attribute {key}. '{key}' is a required property")
    if set(data) - {key}:
        extra = ", ".join(repr(k) for k in sorted(set(data) - {key}))
        raise BadRequest(f"Additional properties are not allowed ({extra} was unexpected)")
    return server_edit.check_metadata(data[key], key)


class MetadataListView(ComputeView):
    def get(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.METADATA_INDEX, {"project_id": instance.project_id})
        return Response({"metadata": instance.metadata})

    def post(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.METADATA_CREATE, {"project_id": instance.project_id})
        metadata = _body(request.data, "metadata")
        return Response({"metadata": server_edit.set_metadata(ctx, instance, metadata, replace=False)})

    def put(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.METADATA_UPDATE_ALL, {"project_id": instance.project_id})
        metadata = _body(request.data, "metadata")
        return Response({"metadata": server_edit.set_metadata(ctx, instance, metadata, replace=True)})


class MetadataItemView(ComputeView):
    def get(self, request, server_id: str, key: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.METADATA_SHOW, {"project_id": instance.project_id})
        if key not in instance.metadata:
            raise NotFound("Metadata item was not found")
        return Response({"meta": {key: instance.metadata[key]}})

    def put(self, request, server_id: str, key: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.METADATA_UPDATE, {"project_id": instance.project_id})
        meta = _body(request.data, "meta")
        if len(meta) > 1:
            raise BadRequest("Request body contains too many items")
        if key not in meta:
            raise BadRequest("Request body and URI mismatch")
        server_edit.set_metadata(ctx, instance, meta, replace=False)
        return Response({"meta": meta})

    def delete(self, request, server_id: str, key: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.METADATA_DELETE, {"project_id": instance.project_id})
        server_edit.delete_metadata_item(ctx, instance, key)
        return self.empty(204)
