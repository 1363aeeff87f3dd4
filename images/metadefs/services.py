"""Every change to the metadata definitions catalog, each in one transaction.

Documents reaching these functions were checked against the catalog format by the API; what is
checked here is what needs the database: duplicates, and the protection of a namespace.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from dashboard.exceptions import Conflict, Forbidden, NotFound
from images.metadefs import catalog
from images.models import (
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefResourceTypeAssociation,
    MetadefTag,
)

TABLES = catalog.Tables(
    namespace=MetadefNamespace,
    resource_type=MetadefResourceType,
    association=MetadefResourceTypeAssociation,
    object=MetadefObject,
    property=MetadefProperty,
    tag=MetadefTag,
)
NAMESPACE_FIELDS = ("display_name", "description", "visibility", "protected", "owner")


def _duplicates(names: list[str]) -> set[str]:
    return {name for name in names if names.count(name) > 1}


def _resource_type(name: str) -> MetadefResourceType:
    """A known resource type; as in Glance, the API associates only the types the catalog has."""
    resource_type = MetadefResourceType.objects.filter(name=name).first()
    if resource_type is None:
        raise NotFound(f"Metadata definition resource-type {name} was not found.")
    return resource_type


def _check_contents(document: dict) -> None:
    for association in document.get("resource_type_associations") or []:
        _resource_type(association["name"])
    for kind, names in (
        ("object", [o["name"] for o in document.get("objects") or []]),
        ("tag", [t["name"] for t in document.get("tags") or []]),
        ("resource type association", [a["name"] for a in document.get("resource_type_associations") or []]),
    ):
        twice = _duplicates(names)
        if twice:
            raise Conflict(f"Duplicate {kind} {sorted(twice)[0]} in namespace {document['namespace']}.")


@transaction.atomic
def create_namespace(owner: str, document: dict) -> MetadefNamespace:
    """A namespace with the contents the document gives (associations, properties, objects, tags)."""
    name = document["namespace"]
    _check_contents(document)
    if MetadefNamespace.objects.filter(namespace=name).exists():
        raise Conflict(f"Namespace {name} already exists.")
    try:
        with transaction.atomic():
            namespace = MetadefNamespace.objects.create(
                namespace=name,
                display_name=document.get("display_name", ""),
                description=document.get("description", ""),
                visibility=document.get("visibility", "private"),
                protected=document.get("protected", False),
                owner=document.get("owner") or owner,
            )
    except IntegrityError:
        raise Conflict(f"Namespace {name} already exists.") from None
    catalog.store_contents(TABLES, namespace, document)
    return namespace


@transaction.atomic
def update_namespace(namespace: MetadefNamespace, document: dict) -> MetadefNamespace:
    """Glance's PUT: the namespace's own fields (its contents have their own resources)."""
    name = document["namespace"]
    if name != namespace.namespace and MetadefNamespace.objects.filter(namespace=name).exists():
        raise Conflict(f"Namespace {name} already exists.")
    namespace.namespace = name
    for field in NAMESPACE_FIELDS:
        if field in document:
            setattr(namespace, field, document[field])
    namespace.save()
    return namespace


def _refuse_if_protected(namespace: MetadefNamespace, what: str) -> None:
    if namespace.protected:
        raise Forbidden(
            f"Namespace {namespace.namespace} is protected: set protected to false before deleting {what}."
        )


@transaction.atomic
def delete_namespace(namespace: MetadefNamespace) -> None:
    _refuse_if_protected(namespace, "it")
    namespace.delete()


CONTENTS = {"objects": MetadefObject, "properties": MetadefProperty, "tags": MetadefTag}


@transaction.atomic
def delete_contents(namespace: MetadefNamespace, kind: str) -> None:
    """Remove every object, property or tag of a namespace."""
    _refuse_if_protected(namespace, f"its {kind}")
    CONTENTS[kind].objects.filter(namespace=namespace).delete()


def _create(model, namespace: MetadefNamespace, kind: str, name: str, **values):
    if model.objects.filter(namespace=namespace, name=name).exists():
        raise Conflict(f"A {kind} named {name} already exists in namespace {namespace.namespace}.")
    try:
        with transaction.atomic():
            return model.objects.create(namespace=namespace, name=name, **values)
    except IntegrityError:
        raise Conflict(f"A {kind} named {name} already exists in namespace {namespace.namespace}.") from None


def _rename(row, kind: str, name: str) -> None:
    if name != row.name and type(row).objects.filter(namespace=row.namespace, name=name).exists():
        raise Conflict(f"A {kind} named {name} already exists in namespace {row.namespace.namespace}.")
    row.name = name


@transaction.atomic
def create_object(namespace: MetadefNamespace, document: dict) -> MetadefObject:
    return _create(
        MetadefObject,
        namespace,
        "object",
        document["name"],
        description=document.get("description", ""),
        required=document.get("required", []),
        properties={k: catalog.property_schema(v) for k, v in (document.get("properties") or {}).items()},
    )


@transaction.atomic
def update_object(obj: MetadefObject, document: dict) -> MetadefObject:
    _rename(obj, "object", document["name"])
    obj.description = document.get("description", "")
    obj.required = document.get("required", [])
    obj.properties = {k: catalog.property_schema(v) for k, v in (document.get("properties") or {}).items()}
    obj.save()
    return obj


@transaction.atomic
def create_property(namespace: MetadefNamespace, document: dict) -> MetadefProperty:
    return _create(
        MetadefProperty, namespace, "property", document["name"], schema=catalog.property_schema(document)
    )


@transaction.atomic
def update_property(prop: MetadefProperty, document: dict) -> MetadefProperty:
    _rename(prop, "property", document["name"])
    prop.schema = catalog.property_schema(document)
    prop.save()
    return prop


@transaction.atomic
def create_tag(namespace: MetadefNamespace, name: str) -> MetadefTag:
    return _create(MetadefTag, namespace, "tag", name)


@transaction.atomic
def create_tags(namespace: MetadefNamespace, names: list[str], *, append: bool) -> list[MetadefTag]:
    """Glance's bulk create: replaces the namespace's tags, or adds to them when ``append``."""
    twice = _duplicates(names)
    if twice:
        raise Conflict(f"Duplicate tag {sorted(twice)[0]} in the request.")
    if append:
        existing = set(
            MetadefTag.objects.filter(namespace=namespace, name__in=names).values_list("name", flat=True)
        )
        if existing:
            raise Conflict(
                f"A tag named {sorted(existing)[0]} already exists in namespace {namespace.namespace}."
            )
    else:
        MetadefTag.objects.filter(namespace=namespace).delete()
    return [MetadefTag.objects.create(namespace=namespace, name=name) for name in names]


@transaction.atomic
def rename_tag(tag: MetadefTag, name: str) -> MetadefTag:
    _rename(tag, "tag", name)
    tag.save()
    return tag


def delete_row(row, what: str) -> None:
    """Delete one object, property, tag or association (not inside a protected namespace)."""
    with transaction.atomic():
        _refuse_if_protected(row.namespace, what)
        row.delete()


@transaction.atomic
def associate(namespace: MetadefNamespace, document: dict) -> MetadefResourceTypeAssociation:
    resource_type = _resource_type(document["name"])
    if MetadefResourceTypeAssociation.objects.filter(
        namespace=namespace, resource_type=resource_type
    ).exists():
        raise Conflict(f"Namespace {namespace.namespace} is already associated with {resource_type.name}.")
    return MetadefResourceTypeAssociation.objects.create(
        namespace=namespace,
        resource_type=resource_type,
        prefix=document.get("prefix") or "",
        properties_target=document.get("properties_target") or "",
    )


def find_association(namespace: MetadefNamespace, name: str) -> MetadefResourceTypeAssociation:
    association = (
        MetadefResourceTypeAssociation.objects.select_related("resource_type", "namespace")
        .filter(namespace=namespace, resource_type__name=name)
        .first()
    )
    if association is None:
        raise NotFound(f"Resource type {name} is not associated with namespace {namespace.namespace}.")
    return association
