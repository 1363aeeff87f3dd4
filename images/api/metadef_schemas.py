"""The schemas of the metadata definitions catalog at /v2/schemas/metadefs/*, in Glance's layout:
a named schema per resource, and a collection schema naming its items and its links."""

from __future__ import annotations

from rest_framework.response import Response

from dashboard.exceptions import NotFound
from images.api.views import GlanceView
from images.metadefs import catalog

TIMES = {
    "created_at": {
        "type": "string",
        "readOnly": True,
        "format": "date-time",
        "description": "When it was made.",
    },
    "updated_at": {
        "type": "string",
        "readOnly": True,
        "format": "date-time",
        "description": "When it last changed.",
    },
}
LINKS = {"schema": {"type": "string", "readOnly": True}, "self": {"type": "string", "readOnly": True}}


def _named(name: str, base: dict, extra: dict | None = None) -> dict:
    return {
        "name": name,
        "properties": {**base["properties"], **(extra or {})},
        "required": base.get("required", []),
        "additionalProperties": False,
        "definitions": {"property": catalog.PROPERTIES},
    }


def _collection(name: str, items: dict, links: bool = True) -> dict:
    schema = {
        "name": name,
        "properties": {name: {"type": "array", "items": items}, "schema": {"type": "string"}},
    }
    if links:
        schema["properties"].update(first={"type": "string"}, next={"type": "string"})
        schema["links"] = [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ]
    return schema


ASSOCIATION = _named("resource_type_association", catalog.ASSOCIATION, TIMES)
NAMESPACE = _named(
    "namespace",
    catalog.NAMESPACE,
    {**TIMES, **LINKS, "resource_type_associations": {"type": "array", "items": ASSOCIATION}},
)
OBJECT = _named("object", catalog.OBJECT, {**TIMES, **LINKS})
PROPERTY = _named("property", catalog.PROPERTY)
PROPERTY["required"] = ["name", "title", "type"]
TAG = _named("tag", catalog.TAG, TIMES)

SCHEMAS = {
    "namespace": NAMESPACE,
    "namespaces": _collection("namespaces", NAMESPACE),
    "object": OBJECT,
    "objects": _collection("objects", OBJECT),
    "property": PROPERTY,
    "properties": {
        "name": "properties",
        "properties": {"properties": {"type": "object", "additionalProperties": catalog.PROPERTY}},
    },
    "tag": TAG,
    "tags": _collection("tags", TAG),
    "resource_type": ASSOCIATION,
    "resource_types": _collection("resource_type_associations", ASSOCIATION, links=False),
}


class MetadefSchemaView(GlanceView):
    def get(self, request, name):
        if name not in SCHEMAS:
            raise NotFound(f"No metadata definitions schema named {name}.")
        return Response(SCHEMAS[name])
