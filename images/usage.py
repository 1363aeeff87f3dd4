"""What still uses an image, for the Delete Images dialog: snapshots made from it (found here) and
whatever the apps above register (``instances``: instances booted from it, volumes made from it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse

from dashboard.usage import Provider, Usage, UsageRegistry, Use
from images.models import Image

registry = UsageRegistry()


def register_usage_provider(provider: Provider) -> None:
    """Another app adds its own uses: ``provider(image ids)`` → {image id: [Use, …]}."""
    registry.register(provider)


def image_usage(ctx, images: Iterable[Image]) -> dict[str, Usage]:
    """{image id: Usage} for every image given; names only where the user may see the project."""
    return registry.collect(ctx, [str(i.pk) for i in images])


def derived_snapshots(ids: list[str]) -> dict[str, list[Use]]:
    """Snapshots whose ``base_image_ref`` names one of the images (Nova sets it on snapshots)."""
    out: dict[str, list[Use]] = {}
    rows = (
        Image.objects.alive()
        .filter(properties__base_image_ref__in=ids)
        .exclude(pk__in=ids)
        .values_list("pk", "name", "owner", "properties")
    )
    for pk, name, owner, properties in rows:
        url = reverse("image-detail", args=[pk])
        out.setdefault(properties["base_image_ref"], []).append(Use("snapshot", name or str(pk), owner, url))
    return out


register_usage_provider(derived_snapshots)
