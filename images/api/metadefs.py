"""The metadata definitions catalog at /v2/metadefs (Glance's namespaces, objects, properties,
tags and resource type associations), with Glance's shapes, codes and policy names."""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response

from dashboard.api.responses import empty
from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize
from images.api.fields import isotime
from images.api.views import GlanceView
from images.metadefs import catalog, services
from images.models import (
    MetadefNamespace,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefResourceTypeAssociation,
    MetadefTag,
)
from images.policies import metadef_target

ROOT = "/v2/metadefs/namespaces"
SORT_KEYS = ("created_at", "updated_at", "namespace", "display_name")


def _times(row) -> dict:
    return {"created_at": isotime(row.created_at), "updated_at": isotime(row.updated_at)}


def association_json(association: MetadefResourceTypeAssociation) -> dict:
    body = {"name": association.resource_type.name}
    if association.prefix:
        body["prefix"] = association.prefix
    if association.properties_target:
        body["properties_target"] = association.properties_target
    return {**body, **_times(association)}


def property_json(name: str, schema: dict) -> dict:
    return {"name": name, **schema}


def object_json(obj: MetadefObject, namespace: str, prefix: str = "") -> dict:
    body = {"name": obj.name}
    if obj.description:
        body["description"] = obj.description
    return {
        **body,
        "required": obj.required,
        "properties": {prefix + k: v for k, v in obj.properties.items()},
        "schema": "/v2/schemas/metadefs/object",
        "self": f"{ROOT}/{namespace}/objects/{obj.name}",
        **_times(obj),
    }


def tag_json(tag: MetadefTag) -> dict:
    return {"name": tag.name, **_times(tag)}


def namespace_json(namespace: MetadefNamespace, *, contents: bool = False, resource_type: str = "") -> dict:
    body: dict = {"namespace": namespace.namespace}
    if namespace.display_name:
        body["display_name"] = namespace.display_name
    if namespace.description:
        body["description"] = namespace.description
    associations = list(namespace.associations.all())
    body.update(
        visibility=namespace.visibility,
        protected=namespace.protected,
        owner=namespace.owner,
        schema="/v2/schemas/metadefs/namespace",
        self=f"{ROOT}/{namespace.namespace}",
        **_times(namespace),
    )
    if associations:
        body["resource_type_associations"] = [association_json(a) for a in associations]
    if contents:
        # Shown for a resource type, names carry that type's prefix (hw_ for images, hw: for flavors).
        prefix = next((a.prefix for a in associations if a.resource_type.name == resource_type), "")
        properties = {prefix + p.name: p.schema for p in namespace.properties.all()}
        objects = [object_json(o, namespace.namespace, prefix) for o in namespace.objects_set.all()]
        tags = [{"name": t.name} for t in namespace.tags.all()]
        if properties:
            body["properties"] = properties
        if objects:
            body["objects"] = objects
        if tags:
            body["tags"] = tags
    return body


def document(request, schema: dict) -> dict:
    """The request's JSON body, checked against one of the catalog's schemas."""
    body = request.data
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    why = catalog.problem(body, schema)
    if why:
        raise BadRequest(f"Invalid input: {why}")
    return body


def find_namespace(ctx, name: str) -> MetadefNamespace:
    """The namespace if the caller may see it; a private namespace of another project is a 404."""
    namespace = (
        MetadefNamespace.objects.visible_to(ctx)
        .prefetch_related("associations__resource_type")
        .filter(namespace=name)
        .first()
    )
    if namespace is None:
        raise NotFound(f"Metadata definition namespace={name} was not found.")
    authorize(ctx, "get_metadef_namespace", metadef_target(ctx, namespace))
    return namespace


def _row(model, namespace: MetadefNamespace, name: str, kind: str):
    row = model.objects.filter(namespace=namespace, name=name).select_related("namespace").first()
    if row is None:
        raise NotFound(f"Metadata definition {kind}={name} was not found in namespace={namespace.namespace}.")
    return row


def _created(body: dict) -> Response:
    return Response(body, status=status.HTTP_201_CREATED)


class NamespaceCollection(GlanceView):
    def get(self, request):
        ctx = request.auth
        authorize(ctx, "get_metadef_namespaces", metadef_target(ctx))
        params = request.query_params
        qs = MetadefNamespace.objects.visible_to(ctx).prefetch_related("associations__resource_type")
        if params.get("visibility"):
            if params["visibility"] not in ("public", "private"):
                raise BadRequest("visibility must be public or private.")
            qs = qs.filter(visibility=params["visibility"])
        if params.get("resource_types"):
            names = [n.strip() for n in params["resource_types"].split(",") if n.strip()]
            qs = qs.filter(associations__resource_type__name__in=names).distinct()
        key = params.get("sort_key", "created_at")
        direction = params.get("sort_dir", "desc")
        if key not in SORT_KEYS or direction not in ("asc", "desc"):
            raise BadRequest(f"sort_key must be one of {', '.join(SORT_KEYS)} and sort_dir asc or desc.")
        order = [f"{'-' if direction == 'desc' else ''}{key}", f"{'-' if direction == 'desc' else ''}id"]
        rows = list(qs.order_by(*order))
        if "marker" in params:
            names = [n.namespace for n in rows]
            if params["marker"] not in names:
                raise NotFound(f"Metadata definition namespace={params['marker']} was not found.")
            rows = rows[names.index(params["marker"]) + 1 :]
        try:
            limit = int(params.get("limit", 1000))
        except ValueError:
            raise BadRequest("limit must be an integer.") from None
        if limit < 1:
            raise BadRequest("limit must be a positive integer.")
        page = rows[:limit]
        body = {
            "namespaces": [namespace_json(n) for n in page],
            "first": ROOT,
            "schema": "/v2/schemas/metadefs/namespaces",
        }
        if len(rows) > limit:
            body["next"] = f"{ROOT}?marker={page[-1].namespace}&limit={limit}"
        return Response(body)

    def post(self, request):
        ctx = request.auth
        authorize(ctx, "add_metadef_namespace", metadef_target(ctx))
        namespace = services.create_namespace(ctx.project_id, document(request, catalog.NAMESPACE))
        return _created(namespace_json(find_namespace(ctx, namespace.namespace), contents=True))


class NamespaceItem(GlanceView):
    def get(self, request, namespace):
        ns = find_namespace(request.auth, namespace)
        resource_type = request.query_params.get("resource_type", "")
        return Response(namespace_json(ns, contents=True, resource_type=resource_type))

    def put(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "modify_metadef_namespace", metadef_target(ctx, ns))
        ns = services.update_namespace(ns, document(request, catalog.NAMESPACE))
        return Response(namespace_json(find_namespace(ctx, ns.namespace)))

    def delete(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "delete_metadef_namespace", metadef_target(ctx, ns))
        services.delete_namespace(ns)
        return empty()


class ObjectCollection(GlanceView):
    def get(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "get_metadef_objects", metadef_target(ctx, ns))
        objects = [object_json(o, ns.namespace) for o in ns.objects_set.all()]
        return Response({"objects": objects, "schema": "/v2/schemas/metadefs/objects"})

    def post(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "add_metadef_object", metadef_target(ctx, ns))
        obj = services.create_object(ns, document(request, catalog.OBJECT))
        return _created(object_json(obj, ns.namespace))

    def delete(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "delete_metadef_object", metadef_target(ctx, ns))
        services.delete_contents(ns, "objects")
        return empty()


class ObjectItem(GlanceView):
    def get(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "get_metadef_object", metadef_target(ctx, ns))
        return Response(object_json(_row(MetadefObject, ns, name, "object"), ns.namespace))

    def put(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "modify_metadef_object", metadef_target(ctx, ns))
        obj = _row(MetadefObject, ns, name, "object")
        obj = services.update_object(obj, document(request, catalog.OBJECT))
        return Response(object_json(obj, ns.namespace))

    def delete(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "delete_metadef_object", metadef_target(ctx, ns))
        services.delete_row(_row(MetadefObject, ns, name, "object"), f"object {name}")
        return empty()


NAMED_PROPERTY = {**catalog.PROPERTY, "required": ["name", "title", "type"]}


class PropertyCollection(GlanceView):
    def get(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "get_metadef_properties", metadef_target(ctx, ns))
        return Response({"properties": {p.name: p.schema for p in ns.properties.all()}})

    def post(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "add_metadef_property", metadef_target(ctx, ns))
        prop = services.create_property(ns, document(request, NAMED_PROPERTY))
        return _created(property_json(prop.name, prop.schema))

    def delete(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "remove_metadef_property", metadef_target(ctx, ns))
        services.delete_contents(ns, "properties")
        return empty()


class PropertyItem(GlanceView):
    def _find(self, request, ns: MetadefNamespace, name: str) -> MetadefProperty:
        # Asked for with a resource type, the name carries that type's prefix (hw_disk_bus → disk_bus).
        resource_type = request.query_params.get("resource_type")
        if resource_type:
            association = services.find_association(ns, resource_type)
            if association.prefix:
                if not name.startswith(association.prefix):
                    raise NotFound(f"Property {name} does not start with the prefix {association.prefix}.")
                name = name[len(association.prefix) :]
        return _row(MetadefProperty, ns, name, "property")

    def get(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "get_metadef_property", metadef_target(ctx, ns))
        prop = self._find(request, ns, name)
        return Response(
            property_json(name if request.query_params.get("resource_type") else prop.name, prop.schema)
        )

    def put(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "modify_metadef_property", metadef_target(ctx, ns))
        prop = services.update_property(
            _row(MetadefProperty, ns, name, "property"), document(request, NAMED_PROPERTY)
        )
        return Response(property_json(prop.name, prop.schema))

    def delete(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "remove_metadef_property", metadef_target(ctx, ns))
        services.delete_row(_row(MetadefProperty, ns, name, "property"), f"property {name}")
        return empty()


TAGS = {
    "type": "object",
    "required": ["tags"],
    "properties": {"tags": {"type": "array", "items": catalog.TAG}},
}


class TagCollection(GlanceView):
    def get(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "get_metadef_tags", metadef_target(ctx, ns))
        return Response({"tags": [tag_json(t) for t in ns.tags.all()]})

    def post(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "add_metadef_tags", metadef_target(ctx, ns))
        names = [t["name"] for t in document(request, TAGS)["tags"]]
        append = request.headers.get("X-Openstack-Append", "").lower() == "true"
        tags = services.create_tags(ns, names, append=append)
        return _created({"tags": [tag_json(t) for t in tags]})

    def delete(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "delete_metadef_tags", metadef_target(ctx, ns))
        services.delete_contents(ns, "tags")
        return empty()


class TagItem(GlanceView):
    def get(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "get_metadef_tag", metadef_target(ctx, ns))
        return Response(tag_json(_row(MetadefTag, ns, name, "tag")))

    def post(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "add_metadef_tag", metadef_target(ctx, ns))
        if not name or len(name) > 255:
            raise BadRequest("A tag name has 1 to 255 characters.")
        return _created(tag_json(services.create_tag(ns, name)))

    def put(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "modify_metadef_tag", metadef_target(ctx, ns))
        tag = _row(MetadefTag, ns, name, "tag")
        return Response(tag_json(services.rename_tag(tag, document(request, catalog.TAG)["name"])))

    def delete(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "delete_metadef_tag", metadef_target(ctx, ns))
        services.delete_row(_row(MetadefTag, ns, name, "tag"), f"tag {name}")
        return empty()


class ResourceTypeCollection(GlanceView):
    def get(self, request):
        ctx = request.auth
        authorize(ctx, "list_metadef_resource_types", metadef_target(ctx))
        types = [{"name": t.name, **_times(t)} for t in MetadefResourceType.objects.all()]
        return Response({"resource_types": types})


class AssociationCollection(GlanceView):
    def get(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "get_metadef_resource_type", metadef_target(ctx, ns))
        return Response({"resource_type_associations": [association_json(a) for a in ns.associations.all()]})

    def post(self, request, namespace):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "add_metadef_resource_type_association", metadef_target(ctx, ns))
        association = services.associate(ns, document(request, catalog.ASSOCIATION))
        return _created(association_json(association))


class AssociationItem(GlanceView):
    def delete(self, request, namespace, name):
        ctx = request.auth
        ns = find_namespace(ctx, namespace)
        authorize(ctx, "remove_metadef_resource_type_association", metadef_target(ctx, ns))
        association = services.find_association(ns, name)
        services.delete_row(association, f"its association with {name}")
        return empty()
