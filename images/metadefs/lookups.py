"""What the catalog says about one kind of resource, for the dashboard's Update Metadata dialogs."""

from __future__ import annotations

from dataclasses import dataclass

from images.models import MetadefNamespace, MetadefResourceTypeAssociation


@dataclass(frozen=True)
class KnownProperty:
    key: str  # the name with the resource type's prefix: hw_disk_bus, hw:cpu_sockets
    title: str
    type: str
    description: str
    enum: tuple[str, ...]
    namespace: str

    @property
    def choices(self) -> tuple[str, ...]:
        """The values offered in a list: the enum, or true/false for a boolean."""
        if self.enum:
            return self.enum
        return ("true", "false") if self.type == "boolean" else ()


@dataclass(frozen=True)
class KnownNamespace:
    name: str
    display_name: str
    description: str
    properties: tuple[KnownProperty, ...]


def known_properties(ctx, resource_type: str) -> list[KnownNamespace]:
    """The namespaces the caller may see that apply to ``resource_type``, with their properties
    named as that resource carries them."""
    associations = (
        MetadefResourceTypeAssociation.objects.filter(
            resource_type__name=resource_type,
            namespace__in=MetadefNamespace.objects.visible_to(ctx),
        )
        .select_related("namespace")
        .prefetch_related("namespace__properties")
        .order_by("namespace__display_name", "namespace__namespace")
    )
    found = []
    for association in associations:
        namespace = association.namespace
        properties = tuple(
            KnownProperty(
                key=association.prefix + prop.name,
                title=str(prop.schema.get("title", prop.name)),
                type=str(prop.schema.get("type", "string")),
                description=str(prop.schema.get("description", "")),
                enum=tuple(str(v) for v in prop.schema.get("enum", []) if v is not None),
                namespace=namespace.namespace,
            )
            for prop in namespace.properties.all()
        )
        if properties:
            found.append(
                KnownNamespace(
                    namespace.namespace,
                    namespace.display_name or namespace.namespace,
                    namespace.description,
                    properties,
                )
            )
    return found
