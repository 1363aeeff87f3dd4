"""One place that turns errors into the error bodies each OpenStack API uses."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from dashboard.exceptions import StratusError

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    410: "Gone",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
NOVA_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    500: "computeFault",
    503: "serviceUnavailable",
}


def keystone_body(status: int, message: str) -> dict:
    return {"error": {"code": status, "title": TITLES.get(status, "Error"), "message": message}}


def nova_body(status: int, message: str) -> dict:
    return {NOVA_KEYS.get(status, "computeFault"): {"code": status, "message": message}}


def glance_body(status: int, message: str) -> dict:
    title = TITLES.get(status, "Error")
    return {
        "code": status,
        "title": title,
        "message": message,
        "error": {"code": status, "title": title, "message": message},
    }


STYLES: dict[str, Callable[[int, str], dict]] = {
    "keystone": keystone_body,
    "nova": nova_body,
    "cinder": nova_body,
    "glance": glance_body,
}
PREFIX_STYLES = (("/identity", "keystone"), ("/image", "glance"), ("/compute", "nova"), ("/volume", "cinder"))


def style_for_path(path: str) -> str | None:
    for prefix, style in PREFIX_STYLES:
        if path == prefix or path.startswith(prefix + "/"):
            return style
    return None


def _message(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_message(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(_message(v) for v in detail)
    return str(detail)


def exception_handler(exc, context):
    view = context.get("view")
    style = getattr(view, "error_style", None) or style_for_path(context["request"].path) or "keystone"
    headers = {}
    if isinstance(exc, StratusError):
        status, message = exc.status, exc.message
    elif isinstance(exc, Http404):
        status, message = 404, str(exc) or "Not found."
    elif isinstance(exc, drf.APIException):
        status, message = exc.status_code, _message(exc.detail)
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            status = 401
            message = "The request you have made requires authentication."
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, drf.ParseError):
            message = f"Malformed request body: {message}"
    else:
        return None
    if status == 401:
        auth = context["request"].authenticators
        if auth:
            headers["WWW-Authenticate"] = auth[0].authenticate_header(context["request"]) or ""
    return Response(STYLES[style](status, message), status=status, headers=headers)


def json_error(request, status: int, message: str) -> JsonResponse | None:
    """An API-style error for paths under an API prefix (used by the 404/500 handlers)."""
    style = style_for_path(request.path)
    if style is None:
        return None
    return JsonResponse(STYLES[style](status, message), status=status)
