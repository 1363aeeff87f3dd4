"""The Compute API's base view and version discovery."""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.api.urls import base_url

from .microversion import MAX_VERSION, MIN_VERSION, APIVersion, requested_version, set_headers

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


class ComputeView(APIView):
    """Every Compute API view: Nova error bodies and microversion negotiation.

    ``request.api_version`` is the negotiated :class:`APIVersion`; every response, errors
    included, names it in ``OpenStack-API-Version`` and ``X-OpenStack-Nova-API-Version``."""

    error_style = "nova"

    def initial(self, request, *args, **kwargs) -> None:
        request.api_version = None
        super().initial(request, *args, **kwargs)
        request.api_version = requested_version(request.headers)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        set_headers(response, getattr(request, "api_version", None))
        return response

    @staticmethod
    def empty(status: int) -> HttpResponse:
        """A bodiless response without a JSON content type (clients try to decode one)."""
        response = HttpResponse(status=status)
        del response["Content-Type"]
        return response


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
