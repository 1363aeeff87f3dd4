"""The Block Storage API's base view, version discovery and volume JSON (Cinder v3)."""

from __future__ import annotations

import re

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.api.microversion import VOLUME, MicroversionedView
from dashboard.api.urls import base_url
from dashboard.exceptions import BadRequest
from instances.models import Volume

MIN_VERSION, MAX_VERSION = VOLUME.minimum, VOLUME.maximum
# The one volume type, Cinder's default type's name: there is no volume types API.
VOLUME_TYPE = "__DEFAULT__"


def volume_url(request) -> str:
    return f"{base_url(request)}/volume"


def version_v3(request) -> dict:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{volume_url(request)}/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


class VolumeAPIView(MicroversionedView):
    """Every Block Storage view: Cinder error bodies, ``OpenStack-API-Version: volume X.Y``."""

    error_style = "cinder"
    versions = VOLUME


class VersionsView(APIView):
    """``GET /volume/`` (300 Multiple Choices, as Cinder's root answers) and ``GET /volume/v3/``
    (200): the one API version."""

    authentication_classes = []
    permission_classes = [AllowAny]
    error_style = "cinder"
    status = 200

    def get(self, request):
        return Response({"versions": [version_v3(request)]}, status=self.status)


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def links(request, volume: Volume) -> list[dict]:
    base = f"{volume_url(request)}/v3/{volume.project_id}/volumes/{volume.pk}"
    return [
        {"rel": "self", "href": base},
        {"rel": "bookmark", "href": base.replace("/v3/", "/", 1)},
    ]


def summary(request, volume: Volume) -> dict:
    return {"id": str(volume.pk), "name": volume.name, "links": links(request, volume)}


def attachment_json(volume: Volume) -> list[dict]:
    out = []
    for a in volume.attachments.all():
        out.append(
            {
                "id": str(volume.pk),
                "attachment_id": str(a.pk),
                "volume_id": str(volume.pk),
                "server_id": str(a.instance_id),
                "host_name": a.instance.host.name if a.instance.host else None,
                "device": a.device_path,
                "attached_at": _time(a.attached_at),
            }
        )
    return out


def detail(request, volume: Volume, *, admin: bool = False, extended: bool = True) -> dict:
    """Cinder's volume view; fields newer than 3.0 from their microversion (cluster_name 3.61,
    consumes_quota 3.65), and what Cinder's extensions add on show and list only, not to the
    answers of create and update (``extended=False``): the image metadata, and for an admin the
    owner and the host."""
    body = {
        **summary(request, volume),
        "description": volume.description,
        "status": volume.status,
        "size": volume.size,
        "availability_zone": volume.availability_zone,
        "created_at": _time(volume.created_at),
        "updated_at": _time(volume.updated_at),
        "attachments": attachment_json(volume),
        "bootable": "true" if volume.bootable else "false",
        "encrypted": False,
        "multiattach": False,
        "volume_type": VOLUME_TYPE,
        "snapshot_id": None,
        "source_volid": volume.source_volume_id or None,
        "consistencygroup_id": None,
        "replication_status": None,
        "migration_status": None,
        "metadata": volume.metadata,
        "user_id": str(volume.user_id) if volume.user_id else None,
        "group_id": None,
        "provider_id": None,
        "service_uuid": None,
        "shared_targets": True,
    }
    version = getattr(request, "api_version", None)
    if version is not None and version >= "3.61":
        body["cluster_name"] = None
    if version is not None and version >= "3.65":
        body["consumes_quota"] = True
    if volume.volume_image_metadata and extended:
        body["volume_image_metadata"] = volume.volume_image_metadata
    if admin and extended:
        body["os-vol-tenant-attr:tenant_id"] = str(volume.project_id)
        body["os-vol-host-attr:host"] = "stratus@file#file"
    return body


def volume_body(data) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get("volume"), dict):
        raise BadRequest("Missing required element 'volume' in request body.")
    return data["volume"]


def text(value, field: str, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"Invalid input received: {field} must be a string of at most {limit} characters.")
    return value


def size_value(value):
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        return int(value)
    return value
