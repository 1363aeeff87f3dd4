"""Cinder's volume metadata: ``/volumes/{id}/metadata`` (GET; POST merges, PUT replaces) and
``/volumes/{id}/metadata/{key}`` (GET, PUT, DELETE)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize
from instances import policies
from instances.api.volume_json import VolumeAPIView
from instances.api.volumes import get_volume
from instances.services import volume_metadata


def _body(data: Any, key: str) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise BadRequest(f"Malformed request body: '{key}' must be an object.")
    return volume_metadata.check_metadata(data[key], key)


class MetadataListView(VolumeAPIView):
    def get(self, request, project_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id, api=False)
        authorize(ctx, policies.VOLUME_METADATA_GET, {"project_id": str(volume.project_id)})
        return Response({"metadata": volume.metadata})

    def post(self, request, project_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id, api=False)
        authorize(ctx, policies.VOLUME_METADATA_CREATE, {"project_id": str(volume.project_id)})
        items = _body(request.data, "metadata")
        return Response({"metadata": volume_metadata.set_metadata(volume, items, replace=False)})

    def put(self, request, project_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id, api=False)
        authorize(ctx, policies.VOLUME_METADATA_UPDATE, {"project_id": str(volume.project_id)})
        items = _body(request.data, "metadata")
        return Response({"metadata": volume_metadata.set_metadata(volume, items, replace=True)})


class MetadataItemView(VolumeAPIView):
    def get(self, request, project_id: str, volume_id: str, key: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id, api=False)
        authorize(ctx, policies.VOLUME_METADATA_GET, {"project_id": str(volume.project_id)})
        if key not in volume.metadata:
            raise NotFound(f"Metadata item {key} could not be found.")
        return Response({"meta": {key: volume.metadata[key]}})

    def put(self, request, project_id: str, volume_id: str, key: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id, api=False)
        authorize(ctx, policies.VOLUME_METADATA_UPDATE, {"project_id": str(volume.project_id)})
        meta = _body(request.data, "meta")
        if len(meta) > 1:
            raise BadRequest("Request body contains too many items.")
        if key not in meta:
            raise BadRequest("Request body and URI mismatch.")
        volume_metadata.set_metadata(volume, meta, replace=False)
        return Response({"meta": meta})

    def delete(self, request, project_id: str, volume_id: str, key: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id, api=False)
        authorize(ctx, policies.VOLUME_METADATA_DELETE, {"project_id": str(volume.project_id)})
        volume_metadata.delete_metadata_item(volume, key)
        return self.empty(200)
