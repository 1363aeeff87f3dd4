"""Glance v2 images: versions, list/create, show/patch/delete, actions and tags."""

from __future__ import annotations

import uuid
from collections import defaultdict

from django.db import connections
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.api.responses import empty
from dashboard.api.urls import base_url
from dashboard.exceptions import BadRequest, Conflict, Forbidden, NotFound, UnsupportedMediaType
from dashboard.policy import authorize, can
from dashboard.prepared import PreparedQueries
from images import services
from images.api import fields, listing, patch
from images.choices import Visibility
from images.filters import GlanceImageFilterSet
from images.models import Image, ImageLocation, ImageTag
from images.policies import target

# The list query, compiled once per query string (see dashboard.prepared).
PAGE_QUERIES = PreparedQueries()
VERSIONS = [("v2.17", "CURRENT")] + [(f"v2.{n}", "SUPPORTED") for n in range(16, -1, -1)]


class GlanceView(APIView):
    error_style = "glance"


def find_image(ctx, image_id: str, *, for_update: bool = False) -> Image:
    """The image if the caller may see it; anything else (bad id, hidden, missing) is a 404."""
    try:
        pk = uuid.UUID(str(image_id))
    except ValueError:
        raise NotFound(f"No image found with ID {image_id}") from None
    image = (
        Image.objects.visible_to(ctx)
        .prefetch_related("tag_set", "members", "locations")
        .filter(pk=pk)
        .first()
    )
    if image is None or not can(ctx, "get_image", target(ctx, image)):
        raise NotFound(f"No image found with ID {image_id}")
    return image


class VersionsView(GlanceView):
    authentication_classes = []
    permission_classes = [AllowAny]
    multiple_choices = True

    def get(self, request):
        root = f"{base_url(request)}/image/v2/"
        doc = {
            "versions": [
                {"id": vid, "status": state, "links": [{"rel": "self", "href": root}]}
                for vid, state in VERSIONS
            ]
        }
        code = status.HTTP_300_MULTIPLE_CHOICES if self.multiple_choices else status.HTTP_200_OK
        return Response(doc, status=code)


class ImageCollection(GlanceView):
    def get(self, request):
        ctx = request.auth
        authorize(ctx, "get_images", {"project_id": ctx.project_id})
        params = request.query_params
        order = listing.sort_order(params)
        limit = listing.limit_of(params)
        GlanceImageFilterSet.clean_param(params, "member_status")  # reported before a bad marker
        marker = None
        if "marker" in params:
            marker = Image.objects.visible_to(ctx).filter(pk=_uuid_or_404(params["marker"])).first()
            if marker is None:
                raise BadRequest(f"Marker {params['marker']} could not be found.")

        def page_query(values):
            qs = GlanceImageFilterSet(params, project_id=values["project"], is_admin=ctx.is_admin).qs
            if marker is not None:
                qs = listing.after_marker(qs, order, marker)
            # Plain rows, not model instances: a page of 1000 images is built as dicts directly
            # (fields.list_row converts the few values that need it).
            return qs.order_by(*listing.order_by(order)).values_list(*fields.LIST_COLUMNS)[: limit + 1]

        # The SQL depends on the request only through its query string (and on the caller through
        # the project, a bound value), so it is compiled once per query string. A marker page
        # depends on the marker row's values as well and is compiled every time.
        query = tuple((key, tuple(values)) for key, values in params.lists())
        shape = None if marker is not None else (ctx.is_admin, query)
        rows = PAGE_QUERIES.fetch(shape, {"project": ctx.project_id}, page_query)
        page = rows[:limit]
        # Tags and stores of the whole page in two flat queries. The ids go back to the database
        # exactly as it returned them, so no per-id conversion happens in Python.
        ids = [row[0] for row in page]
        tags: dict = defaultdict(list)
        stores: dict = defaultdict(list)
        for image_id, value in _by_image(ImageTag, "value", ids, order="value"):
            tags[image_id].append(value)
        for image_id, store in _by_image(ImageLocation, "store", ids):
            stores[image_id].append(store)
        readable = fields.ReadableProperties(ctx)
        body = {
            "images": [fields.list_row(row, tags[row[0]], stores[row[0]], readable) for row in page],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
        if len(rows) > limit and limit:
            body["next"] = listing.next_link(params, fields.uuid_text(page[-1][0]), limit)
        return fields.json_response(body)

    def post(self, request):
        ctx = request.auth
        body = request.data
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        owner, attrs, props, tags = new_image_fields(ctx, body)
        image = services.create_image(owner, attrs, props, tags)
        image = find_image(ctx, image.pk)
        return Response(
            fields.image_json(image, ctx),
            status=status.HTTP_201_CREATED,
            headers={
                "Location": f"{base_url(request)}/image/v2/images/{image.pk}",
                "OpenStack-image-import-methods": "glance-direct,web-download,copy-image",
            },
        )


def new_image_fields(ctx, body: dict) -> tuple[str, dict, dict, list[str]]:
    """A new image's owner, attributes, properties and tags from a create body, checked and
    authorized as Glance does (POST /v2/images, and the image_properties of an import task)."""
    owner = body.get("owner", ctx.project_id)
    authorize(ctx, "add_image", {"project_id": ctx.project_id, "owner": owner})
    attrs: dict = {"visibility": Visibility.SHARED}
    props: dict = {}
    tags: list[str] = []
    for name, value in body.items():
        if name == "id":
            attrs["id"] = _uuid_or_400(value)
            continue
        fields.refuse_reserved(name)
        if name == "tags":
            tags = fields.check_tags(value)
        elif name in fields.WRITABLE:
            attrs[name] = fields.clean_attribute(name, value)
        else:
            fields.protect(ctx, name, "create")
            props[name] = fields.clean_property(name, value)
    fields.check_property_count(props)
    if owner != ctx.project_id and not ctx.is_admin:
        raise Forbidden("You are not permitted to create images owned by another project.")
    attrs.pop("owner", None)
    fields.authorize_visibility(ctx, Image(owner=owner), attrs["visibility"])
    if "id" in attrs and Image.objects.filter(pk=attrs["id"]).exists():
        raise Conflict(f"An image with id {attrs['id']} already exists.")
    return owner, attrs, props, tags


class ImageItem(GlanceView):
    parser_classes = [patch.PatchV21Parser, patch.PatchV20Parser]

    def get(self, request, image_id):
        return Response(fields.image_json(find_image(request.auth, image_id), request.auth))

    def patch(self, request, image_id):
        media = request.content_type.split(";")[0].strip()
        if media not in (patch.V21, patch.V20):
            raise UnsupportedMediaType(f"Unsupported Content-Type {media!r} for a JSON patch.")
        ctx = request.auth
        image = find_image(ctx, image_id)
        patch.apply(ctx, image, patch.operations(request.data, media))
        return Response(fields.image_json(find_image(ctx, image_id), ctx))

    def delete(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "delete_image", target(ctx, image))
        services.delete_image(image)
        return empty()


class ImageAction(GlanceView):
    def post(self, request, image_id, action):
        ctx = request.auth
        image = find_image(ctx, image_id)
        if action not in ("deactivate", "reactivate"):
            raise NotFound(f"Unknown action {action!r}.")
        authorize(ctx, action, target(ctx, image))
        getattr(services, action)(image)
        return empty()


class ImageTagItem(GlanceView):
    def put(self, request, image_id, tag):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "modify_image", target(ctx, image))
        current = [t.value for t in image.tag_set.all()]
        if tag not in current:
            services.set_tags(image, fields.check_tags([*current, tag]))
        return empty()

    def delete(self, request, image_id, tag):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "modify_image", target(ctx, image))
        if not ImageTag.objects.filter(image=image, value=tag).delete()[0]:
            raise NotFound(f"Tag {tag} not found.")
        return empty()


def _by_image(model, column: str, ids: list, order: str | None = None) -> list[tuple]:
    """(image_id, column) rows of ``model`` for the given raw image ids."""
    if not ids:
        return []
    connection = connections[model.objects.db]
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('image_id')}, {quote(column)} FROM {quote(model._meta.db_table)} "
        f"WHERE {quote('image_id')} IN ({', '.join(['%s'] * len(ids))})"
        + (f" ORDER BY {quote(order)}" if order else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        return cursor.fetchall()


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest(f"Marker {value} could not be found.") from None


def _uuid_or_400(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadRequest("id must be a UUID.") from None
