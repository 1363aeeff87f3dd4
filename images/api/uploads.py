"""Resumable uploads: the tus protocol 1.0.0 (core, creation, termination and expiration) on an
image's staging area. POST creates an upload for a queued image; HEAD reads its offset; PATCH
appends at the offset; DELETE gives it up. Every request is checked like PUT /stage: the image
must be visible to the caller and the upload_image policy must allow it.

An upload created with the metadata ``import glance-direct`` starts that import when its last
byte arrives. The state is in images.resumable."""

from __future__ import annotations

import base64
import binascii
import uuid

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import http_date

from dashboard.api.responses import empty
from dashboard.api.urls import base_url
from dashboard.exceptions import (
    BadRequest,
    Conflict,
    NotFound,
    RequestEntityTooLarge,
    StratusError,
    UnsupportedMediaType,
)
from dashboard.policy import authorize
from images import resumable
from images.api.data import _as_http
from images.api.views import GlanceView, find_image
from images.choices import ImageStatus, ImportMethod
from images.pipeline.errors import TooLarge, TransferError
from images.pipeline.source import BodyReader
from images.policies import target

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
METADATA_KEYS = 16
METADATA_VALUE = 1024  # bytes, decoded


class TusView(GlanceView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS" and request.META.get("HTTP_TUS_RESUMABLE") != TUS_VERSION:
            raise StratusError(f"This server speaks tus {TUS_VERSION} only.", status=412)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        response["Tus-Version"] = TUS_VERSION
        response["Cache-Control"] = "no-store"
        return response

    def options(self, request, *args, **kwargs):
        response = empty()
        response["Tus-Extension"] = EXTENSIONS
        response["Tus-Max-Size"] = str(settings.IMAGE_MAX_SIZE)
        return response

    def image_for_upload(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "upload_image", target(ctx, image))
        return image


def _header_int(request, name: str) -> int:
    value = request.META.get("HTTP_" + name.upper().replace("-", "_"), "")
    if not value.isdigit():
        raise BadRequest(f"{name} must be a non-negative integer.")
    return int(value)


def parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated ``key base64(value)`` pairs (the value may be absent)."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, encoded = pair.partition(" ")
        if not key or not key.isascii() or " " in encoded.strip():
            raise BadRequest("Upload-Metadata must be comma-separated 'key base64-value' pairs.")
        try:
            value = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest(f"Upload-Metadata {key!r} is not base64-encoded UTF-8.") from exc
        if len(value) > METADATA_VALUE or len(metadata) >= METADATA_KEYS:
            raise BadRequest("Upload-Metadata is too large.")
        metadata[key] = value
    return metadata


def format_metadata(metadata: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items())


def _state(response: HttpResponse, upload) -> HttpResponse:
    response["Upload-Offset"] = str(upload.offset)
    response["Upload-Length"] = str(upload.length)
    if not upload.complete:
        response["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return response


class UploadCollection(TusView):
    def post(self, request, image_id):
        image = self.image_for_upload(request, image_id)
        if "HTTP_UPLOAD_DEFER_LENGTH" in request.META:
            raise BadRequest("Upload-Defer-Length is not supported: send Upload-Length.")
        length = _header_int(request, "Upload-Length")
        metadata = parse_metadata(request.META.get("HTTP_UPLOAD_METADATA", ""))
        if metadata.get("import", ImportMethod.GLANCE_DIRECT) != ImportMethod.GLANCE_DIRECT:
            raise BadRequest("The only import an upload can start is glance-direct.")
        if image.status != ImageStatus.QUEUED:
            raise Conflict(f"Image status is {image.status}; only a queued image takes an upload.")
        try:
            upload = resumable.create(image, length, metadata)
        except TooLarge as exc:
            raise RequestEntityTooLarge(str(exc)) from exc
        response = _state(empty(201), upload)
        response["Location"] = f"{base_url(request)}/image/v2/images/{image.pk}/uploads/{upload.pk}"
        return response


class UploadItem(TusView):
    def _upload(self, request, image_id, upload_id):
        image = self.image_for_upload(request, image_id)
        try:
            pk = uuid.UUID(str(upload_id))
        except ValueError:
            raise NotFound("No such upload.") from None
        return resumable.find(image, pk)

    def head(self, request, image_id, upload_id):
        upload = self._upload(request, image_id, upload_id)
        response = _state(HttpResponse(status=200), upload)
        del response["Content-Type"]
        if upload.metadata:
            response["Upload-Metadata"] = format_metadata(upload.metadata)
        return response

    def patch(self, request, image_id, upload_id):
        upload = self._upload(request, image_id, upload_id)
        content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip()
        if content_type != OFFSET_CONTENT_TYPE:
            raise UnsupportedMediaType(f"PATCH bodies are {OFFSET_CONTENT_TYPE}.")
        offset = _header_int(request, "Upload-Offset")
        body = BodyReader(request._request.META)
        try:
            resumable.append(upload, offset, body, body.remaining)
        except (TransferError, TooLarge) as exc:
            raise _as_http(exc) from exc
        return _state(empty(), upload)

    def delete(self, request, image_id, upload_id):
        upload = self._upload(request, image_id, upload_id)
        resumable.terminate(upload, "Upload aborted: the partial data was removed; upload the file again.")
        return empty()
