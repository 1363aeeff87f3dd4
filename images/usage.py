"""What still uses an image, for the delete dialog: snapshots made from it, and (once the
instances app registers a provider) instances booted from it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from images.models import Image

UsageProvider = Callable[[list[Image]], dict[str, list[str]]]
_providers: list[UsageProvider] = []


def register_usage_provider(provider: UsageProvider) -> None:
    """Another app adds its own uses, e.g. ``instances`` with "instance web-1 booted from it"."""
    if provider not in _providers:
        _providers.append(provider)


def image_usage(images: Iterable[Image]) -> dict[str, list[str]]:
    """{image id: ["snapshot db-backup (…)", …]} for every image given; empty lists when unused."""
    images = list(images)
    usage: dict[str, list[str]] = {str(i.pk): [] for i in images}
    for provider in [derived_snapshots, *_providers]:
        for image_id, uses in provider(images).items():
            usage.setdefault(image_id, []).extend(uses)
    return usage


def derived_snapshots(images: list[Image]) -> dict[str, list[str]]:
    """Snapshots whose ``base_image_ref`` names one of the images (Nova sets it on snapshots)."""
    ids = [str(i.pk) for i in images]
    out: dict[str, list[str]] = {}
    rows = (
        Image.objects.alive()
        .filter(properties__base_image_ref__in=ids)
        .exclude(pk__in=[i.pk for i in images])
        .values_list("pk", "name", "properties")
    )
    for pk, name, properties in rows:
        out.setdefault(properties["base_image_ref"], []).append(f"snapshot {name or pk}")
    return out
