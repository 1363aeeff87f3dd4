"""The known properties the Update Metadata dialogs offer. The images app owns the metadata
definitions catalog and registers its lookup here when it is ready; the flavors and instances
dialogs ask through this module, since they may not import images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

IMAGE = "OS::Glance::Image"
FLAVOR = "OS::Nova::Flavor"
SERVER = "OS::Nova::Server"

# (ctx, resource type) → the namespaces that apply, each with ``properties`` carrying ``key``,
# ``title``, ``type``, ``description`` and ``choices``.
Lookup = Callable[[Any, str], list]
_lookup: Lookup | None = None


def register(lookup: Lookup) -> None:
    global _lookup
    _lookup = lookup


def known_properties(ctx, resource_type: str) -> list:
    """The catalog's namespaces for ``resource_type`` ([] when no catalog is installed)."""
    return _lookup(ctx, resource_type) if _lookup is not None else []


def by_key(namespaces: list) -> dict[str, Any]:
    return {prop.key: prop for namespace in namespaces for prop in namespace.properties}
