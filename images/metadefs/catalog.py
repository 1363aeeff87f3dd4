"""The format of a namespace document (as Glance reads and writes it) and the loading of ours.

The common namespaces live as JSON files beside this module; a data migration loads them when a
database is created, and an administrator may edit or delete them afterwards through the API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

DATA_DIR = Path(__file__).resolve().parent
NAME = {"type": "string", "minLength": 1, "maxLength": 80}
# The resource types Glance knows from the start; namespaces may name others, which are then made.
RESOURCE_TYPES = (
    "OS::Cinder::Volume",
    "OS::Glance::Image",
    "OS::Nova::Aggregate",
    "OS::Nova::Flavor",
    "OS::Nova::Server",
)
PROPERTY_TYPES = ["array", "boolean", "integer", "number", "object", "string", "null"]

PROPERTY = {
    "type": "object",
    "required": ["title", "type"],
    "properties": {
        "name": {"type": "string", "maxLength": 255},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": PROPERTY_TYPES},
        "required": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"type": "integer", "minimum": 0},
        "minLength": {"type": "integer", "minimum": 0},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": PROPERTY_TYPES},
                "enum": {"type": "array"},
            },
        },
        "maxItems": {"type": "integer", "minimum": 0},
        "minItems": {"type": "integer", "minimum": 0},
        "uniqueItems": {"type": "boolean", "default": False},
        "additionalItems": {"type": "boolean"},
    },
    "additionalProperties": False,
}

PROPERTIES = {"type": "object", "additionalProperties": PROPERTY}

OBJECT = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 80},
        "description": {"type": "string"},
        "required": {"type": "array", "items": {"type": "string"}},
        "properties": PROPERTIES,
    },
    "additionalProperties": False,
}

TAG = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255}},
    "additionalProperties": False,
}

ASSOCIATION = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": NAME,
        "prefix": {"type": "string", "maxLength": 80},
        "properties_target": {"type": "string", "maxLength": 80},
    },
    "additionalProperties": False,
}

NAMESPACE = {
    "type": "object",
    "required": ["namespace"],
    "properties": {
        "namespace": NAME,
        "display_name": {"type": "string", "maxLength": 80},
        "description": {"type": "string", "maxLength": 500},
        "visibility": {"type": "string", "enum": ["public", "private"]},
        "protected": {"type": "boolean"},
        "owner": {"type": "string", "maxLength": 255},
        "resource_type_associations": {"type": "array", "items": ASSOCIATION},
        "properties": PROPERTIES,
        "objects": {"type": "array", "items": OBJECT},
        "tags": {"type": "array", "items": TAG},
    },
    "additionalProperties": False,
}


def problem(document: Any, schema: dict) -> str:
    """Why ``document`` does not fit ``schema`` ("" when it does)."""
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(document)
    )
    if error is None:
        return ""
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def data_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.json"))


def read(path: Path) -> dict:
    """One data file, checked against the namespace format; a bad file is an error, not a skip."""
    document = json.loads(path.read_text(encoding="utf-8"))
    why = problem(document, NAMESPACE)
    if why:
        raise ValueError(f"{path.name}: {why}")
    return document


@dataclass(frozen=True)
class Tables:
    """The catalog's model classes: the real ones, or a migration's historical ones."""

    namespace: Any
    resource_type: Any
    association: Any
    object: Any
    property: Any
    tag: Any


def store_contents(tables: Tables, namespace, document: dict) -> None:
    """Add the associations, properties, objects and tags of ``document`` to ``namespace``."""
    for association in document.get("resource_type_associations", []):
        resource_type, _ = tables.resource_type.objects.get_or_create(name=association["name"])
        tables.association.objects.create(
            namespace=namespace,
            resource_type=resource_type,
            prefix=association.get("prefix") or "",
            properties_target=association.get("properties_target") or "",
        )
    for name, schema in (document.get("properties") or {}).items():
        tables.property.objects.create(namespace=namespace, name=name, schema=property_schema(schema))
    for obj in document.get("objects") or []:
        tables.object.objects.create(
            namespace=namespace,
            name=obj["name"],
            description=obj.get("description", ""),
            required=obj.get("required", []),
            properties={k: property_schema(v) for k, v in (obj.get("properties") or {}).items()},
        )
    for tag in document.get("tags") or []:
        tables.tag.objects.create(namespace=namespace, name=tag["name"])


def property_schema(schema: dict) -> dict:
    """A property's schema as stored: everything but its name, which is the row's own column."""
    return {key: value for key, value in schema.items() if key != "name"}


def load(tables: Tables, owner: str = "") -> list[str]:
    """Create each namespace of the data files that does not exist yet; returns the ones created."""
    created = []
    for name in RESOURCE_TYPES:
        tables.resource_type.objects.get_or_create(name=name, defaults={"protected": True})
    for path in data_files():
        document = read(path)
        if tables.namespace.objects.filter(namespace=document["namespace"]).exists():
            continue
        namespace = tables.namespace.objects.create(
            namespace=document["namespace"],
            display_name=document.get("display_name", ""),
            description=document.get("description", ""),
            visibility=document.get("visibility", "public"),
            protected=document.get("protected", True),
            owner=document.get("owner", owner),
        )
        store_contents(tables, namespace, document)
        created.append(namespace.namespace)
    return created
