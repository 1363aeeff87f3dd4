"""What still uses a flavor, for the Delete Flavor dialog. Flavors know no instances: the instances
app registers its provider here from ``AppConfig.ready``."""

from __future__ import annotations

from collections.abc import Iterable

from dashboard.usage import Provider, Usage, UsageRegistry

registry = UsageRegistry()


def register_usage_provider(provider: Provider) -> None:
    """``provider(flavor ids)`` → {flavor id: [Use, …]}."""
    registry.register(provider)


def flavor_usage(ctx, flavor_ids: Iterable[str]) -> dict[str, Usage]:
    return registry.collect(ctx, flavor_ids)
