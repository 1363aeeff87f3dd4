"""The instances and volumes that use an image or a flavor, for the delete dialogs of the layers
below (registered into ``images.usage`` and ``flavors.usage`` from ``AppConfig.ready``). One query
per kind for all the ids, whatever their number."""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse

from dashboard.usage import Use
from instances.models import Instance, Volume


def _instance_use(pk, name: str, project_id: str) -> Use:
    return Use("instance", name, project_id, reverse("instance-detail", args=[pk]))


def image_users(ids: list[str]) -> dict[str, list[Use]]:
    """Instances booted from the images and volumes made from them (alive ones only)."""
    out: dict[str, list[Use]] = {}
    for pk, name, project_id, image_id in (
        Instance.objects.alive().filter(image_id__in=ids).values_list("pk", "name", "project_id", "image_id")
    ):
        out.setdefault(image_id, []).append(_instance_use(pk, name, project_id))
    volumes = Volume.objects.alive().filter(
        Q(source_image_id__in=ids) | Q(volume_image_metadata__image_id__in=ids)
    )
    for pk, name, project_id, source, metadata in volumes.values_list(
        "pk", "name", "project_id", "source_image_id", "volume_image_metadata"
    ):
        image_id = source if source in ids else (metadata or {}).get("image_id", "")
        url = reverse("project-volumes")
        out.setdefault(image_id, []).append(Use("volume", name or str(pk), project_id, url))
    return out


def flavor_users(ids: list[str]) -> dict[str, list[Use]]:
    """Instances of the flavors (alive ones only)."""
    out: dict[str, list[Use]] = {}
    rows = Instance.objects.alive().filter(flavor_id__in=ids)
    for pk, name, project_id, flavor_id in rows.values_list("pk", "name", "project_id", "flavor_id"):
        out.setdefault(str(flavor_id), []).append(_instance_use(pk, name, project_id))
    return out
