"""The Compute API's base view and version discovery."""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.api.microversion import COMPUTE, MAX_VERSION, MIN_VERSION, APIVersion, MicroversionedView
from dashboard.api.urls import base_url

MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]


def compute_url(request) -> str:
    return f"{base_url(request)}/compute"


def version_v20(request) -> dict:
    return {
        "id": "v2.0",
        "status": "DEPRECATED",
        "version": "",
        "min_version": "",
        "updated": "2025-07-04T12:00:00Z",
        "links": [{"rel": "self", "href": f"{compute_url(request)}/v2/"}],
        "media-types": MEDIA_TYPES,
    }


def version_v21(request) -> dict:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(MAX_VERSION),
        "min_version": str(MIN_VERSION),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": f"{compute_url(request)}/v2.1/"}],
        "media-types": MEDIA_TYPES,
    }


class ComputeView(MicroversionedView):
    """Every Compute API view: Nova error bodies and microversion negotiation; every response
    names the version in ``OpenStack-API-Version`` and ``X-OpenStack-Nova-API-Version``."""

    error_style = "nova"
    versions = COMPUTE


class VersionsView(APIView):
    """``GET /compute``: the API versions, v2.0 first as Nova lists them."""

    authentication_classes = []
    permission_classes = [AllowAny]
    error_style = "nova"

    def get(self, request):
        return Response({"versions": [version_v20(request), version_v21(request)]})


class V21View(VersionsView):
    def get(self, request):
        return Response({"version": version_v21(request)})


class V20View(VersionsView):
    def get(self, request):
        return Response({"version": version_v20(request)})


__all__ = ["APIVersion", "ComputeView", "V20View", "V21View", "VersionsView", "compute_url"]
