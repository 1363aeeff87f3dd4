"""Image data: upload (PUT /file), download (GET /file), staging, import, and import discovery."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework.response import Response

from dashboard.exceptions import BadRequest, Conflict, Forbidden, RequestEntityTooLarge, StratusError
from dashboard.policy import authorize
from images import integrity, services
from images.api.views import GlanceView, empty, find_image
from images.choices import API_IMPORT_METHODS, ImageStatus, ImportMethod
from images.models import ImageLocation
from images.pipeline import upload as uploads
from images.pipeline.errors import ImageRejected, QuotaExceeded, TooLarge, TransferError
from images.pipeline.fetch import FetchError, check_url
from images.pipeline.ingest import check_expected_hash
from images.pipeline.source import BodyReader
from images.policies import target
from images.stores import StoreError, all_stores, get_store

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _declared_size(request) -> int | None:
    value = request.META.get("HTTP_X_OPENSTACK_IMAGE_SIZE")
    if value in (None, ""):
        return None
    try:
        size = int(value)
    except ValueError as exc:
        raise BadRequest("x-openstack-image-size must be an integer.") from exc
    if size < 0:
        raise BadRequest("x-openstack-image-size must not be negative.")
    return size


def _as_http(exc: Exception) -> StratusError:
    if isinstance(exc, TooLarge | QuotaExceeded):
        return RequestEntityTooLarge(str(exc))
    if isinstance(exc, ImageRejected | TransferError):
        return BadRequest(str(exc))
    return StratusError("The image could not be stored.", status=503)


class ImageFile(GlanceView):
    def put(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "upload_image", target(ctx, image))
        if image.status != ImageStatus.QUEUED:
            raise Conflict(f"Image status is {image.status}; data can only be uploaded to a queued image.")
        try:
            uploads.upload(image, BodyReader(request._request.META), _declared_size(request))
        except (ImageRejected, TransferError, TooLarge, QuotaExceeded, StoreError) as exc:
            raise _as_http(exc) from exc
        return empty()

    def get(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "download_image", target(ctx, image))
        if image.status == ImageStatus.DEACTIVATED and not ctx.is_admin:
            raise Forbidden("The requested image has been deactivated. Image data download is forbidden.")
        location = next(iter(image.locations.all()), None)
        if image.status not in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED) or location is None:
            return empty()
        services.check_intact(image)
        store = get_store(location.store)
        key = location.data_key
        size = image.size or 0
        start, length, code = 0, None, 200
        header = request.META.get("HTTP_RANGE")
        if header:
            start, length = _parse_range(header, size)
            code = 206
        try:
            if location.store == integrity.HTTP_STORE:
                # A remote server can change what its URL serves: every byte is hashed on the way,
                # a range included (it is cut out of the whole data), and a mismatch cuts the stream.
                body = integrity.verified(image, store.get(key), start, length)
            else:
                body = store.get(key, start, length)
        except StoreError as exc:
            raise StratusError("The image data is not available right now.", status=503) from exc
        response = StreamingHttpResponse(body, status=code, content_type="application/octet-stream")
        response["Content-Length"] = str(size if length is None else length)
        if code == 206:
            response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
        elif image.checksum:
            response["Content-MD5"] = image.checksum
        return response


def _parse_range(header: str, size: int) -> tuple[int, int]:
    match = RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise StratusError("Invalid Range header.", status=416)
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:  # a suffix: the last N bytes
        start = max(size - int(last), 0)
        end = size - 1
    if start >= size or end < start:
        raise StratusError(f"Requested range not satisfiable (size {size}).", status=416)
    return start, end - start + 1


class ImageStage(GlanceView):
    def put(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "upload_image", target(ctx, image))
        if image.status != ImageStatus.QUEUED:
            raise Conflict(f"Image status is {image.status}; only a queued image can be staged.")
        try:
            uploads.stage(image, BodyReader(request._request.META), _declared_size(request))
        except (TransferError, TooLarge, QuotaExceeded) as exc:
            raise _as_http(exc) from exc
        return empty()


class ImageImport(GlanceView):
    def post(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        body = request.data if isinstance(request.data, dict) else {}
        method = (body.get("method") or {}).get("name")
        if method not in API_IMPORT_METHODS:
            raise BadRequest(f"Unknown import method {method!r}.")
        if not image.disk_format or not image.container_format:
            raise BadRequest("Set disk_format and container_format before importing.")
        stores = body.get("stores") or []
        if body.get("all_stores"):
            stores = [name for name, s in all_stores().items() if s.writable]
        for name in stores:
            if name not in all_stores() or not all_stores()[name].writable:
                raise BadRequest(f"Unknown or read-only store {name!r}.")
        if method == ImportMethod.COPY_IMAGE:
            authorize(ctx, "copy_image", target(ctx, image))
            have = set(ImageLocation.objects.filter(image=image).values_list("store", flat=True))
            stores = [s for s in stores if s not in have]
            if not stores and body.get("all_stores"):
                # Glance skips the stores that hold the image already, so "copy to all stores"
                # of an image that is everywhere is accepted and finishes at once.
                services.finish_empty_copy(image, _task_origin(request, image, body, stores))
                return empty(202)
            if not stores:
                raise BadRequest("copy-image needs at least one store the image is not in yet.")
        else:
            authorize(ctx, "upload_image", target(ctx, image))
        uri, expected_hash = "", None
        if method == ImportMethod.WEB_DOWNLOAD:
            uri = (body.get("method") or {}).get("uri") or ""
            check_remote(uri)
            # The hash the downloaded bytes must have, checked before anything inspects them.
            expected_hash = check_expected_hash(
                (body.get("method") or {}).get("validation_data") or body.get("validation_data")
            )
        elif method == ImportMethod.GLANCE_DIRECT:
            expected_hash = check_expected_hash(body.get("validation_data"))
        origin = _task_origin(request, image, body, stores)
        services.start_import(image, method, uri, stores, expected_hash, task=origin)
        return empty(202)


def _task_origin(request, image, body: dict, stores: list[str]) -> services.TaskOrigin:
    """What the import's task records: the request as Glance's api_image_import task input."""
    return services.TaskOrigin(
        input={"image_id": str(image.pk), "import_req": body, "backend": stores},
        user_id=str(request.auth.user.pk),
        request_id=getattr(request, "request_id", "") or "",
    )


def check_remote(uri) -> None:
    if not isinstance(uri, str) or not uri:
        raise BadRequest("A URI is required.")
    try:
        check_url(uri)
    except FetchError as exc:
        raise BadRequest(f"URI not allowed: {exc}") from exc


class ImageLocations(GlanceView):
    """Glance 2.17 locations: an HTTP(S) URL whose bytes stay remote (the read-only HTTP store).
    A worker fetches them once to verify the hash and the content, then the image is active and
    downloads stream from the URL."""

    def post(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "add_image_location", target(ctx, image))
        body = request.data if isinstance(request.data, dict) else {}
        if image.status != ImageStatus.QUEUED:
            raise Conflict(f"Image status is {image.status}; a location can only be added to a queued image.")
        if not image.disk_format or not image.container_format:
            raise BadRequest("Set disk_format and container_format before adding a location.")
        if image.container_format == "ova":
            raise BadRequest("An OVA cannot stay at a URL: import it with web-download.")
        url = body.get("url")
        check_remote(url)
        expected_hash = check_expected_hash(body.get("validation_data"))
        origin = services.TaskOrigin(
            input={"image_id": str(image.pk), "loc_url": url, "validation_data": body.get("validation_data")},
            user_id=str(ctx.user.pk),
            request_id=getattr(request, "request_id", "") or "",
        )
        services.start_import(image, ImportMethod.LOCATION, url, expected_hash=expected_hash, task=origin)
        return empty(202)

    def get(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "get_image_location", target(ctx, image))
        # Store keys are internal; only HTTP locations have a URL the owner gave (no credentials:
        # URLs with a user or password are refused when added).
        return Response(
            [
                {"url": loc.url, "metadata": {"store": loc.store}}
                for loc in image.locations.all()
                if loc.store == "http" and loc.url
            ]
        )


class ImportInfo(GlanceView):
    def get(self, request):
        return Response(
            {
                "import-methods": {
                    "description": "Import methods available.",
                    "type": "array",
                    "value": list(API_IMPORT_METHODS),
                }
            }
        )


class StoresInfo(GlanceView):
    def get(self, request):
        stores = [
            {"id": name, "description": store.description}
            | ({"default": True} if name == settings.IMAGE_DEFAULT_STORE else {})
            for name, store in all_stores().items()
            if store.writable
        ]
        return Response({"stores": stores})
