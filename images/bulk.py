"""What the Images panel can do to many images at once (see dashboard.bulk): delete, deactivate,
reactivate and change visibility. Each item goes through the Image API's own lookup, policy rules
and services, so a bulk action refuses exactly what one request would. Each is safe to repeat on
an image it already changed (a resumed job may repeat its last item)."""

from __future__ import annotations

from dashboard.bulk import BulkAction, register
from dashboard.policy import authorize
from images import services
from images.api import patch
from images.api.views import find_image
from images.choices import ImageStatus, Visibility
from images.models import Image
from images.policies import target

KIND = "images"


def delete(ctx, image_id: str, params: dict) -> str:
    if Image.objects.filter(pk=image_id, status=ImageStatus.DELETED).exists():
        return "Already deleted."
    image = find_image(ctx, image_id)
    authorize(ctx, "delete_image", target(ctx, image))
    services.delete_image(image)
    return ""


def deactivate(ctx, image_id: str, params: dict) -> str:
    image = find_image(ctx, image_id)
    authorize(ctx, "deactivate", target(ctx, image))
    if image.status == ImageStatus.DEACTIVATED:
        return "Already deactivated."
    services.deactivate(image)
    return ""


def reactivate(ctx, image_id: str, params: dict) -> str:
    image = find_image(ctx, image_id)
    authorize(ctx, "reactivate", target(ctx, image))
    if image.status == ImageStatus.ACTIVE:
        return "Already active."
    services.reactivate(image)
    return ""


def set_visibility(ctx, image_id: str, params: dict) -> str:
    image = find_image(ctx, image_id)
    value = params["visibility"]
    if image.visibility == value:
        return f"Already {value}."
    patch.apply(ctx, image, [("replace", "visibility", value)])
    return ""


ACTIONS = {
    "delete": BulkAction(KIND, "delete", "Delete images", delete),
    "deactivate": BulkAction(KIND, "deactivate", "Deactivate images", deactivate),
    "reactivate": BulkAction(KIND, "reactivate", "Reactivate images", reactivate),
    "visibility": BulkAction(KIND, "visibility", "Change visibility", set_visibility),
}
VISIBILITIES = dict(Visibility.choices)


def register_actions() -> None:
    for action in ACTIONS.values():
        register(action)
