"""Stopping an image's transfer from the dashboard: the Abort of the upload tray and of the row."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.policy import authorize
from dashboard.redirects import next_or
from images import resumable
from images.policies import target
from images.views.pages import get_image


@policy_required("get_images")
@require_POST
def image_abort(request: HttpRequest, image_id: str) -> HttpResponse:
    """Abort an upload in flight, a running import or a conversion (the upload_image rule, as for
    sending the bytes). Answers JSON to the tray's fetch, a redirect with a message to the row."""
    image = get_image(request, image_id)
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        authorize(request.ctx, "upload_image", target(request.ctx, image))
        stopped = resumable.abort(image)
    except StratusError as exc:
        if wants_json:
            return JsonResponse({"message": exc.message}, status=exc.status)
        messages.error(request, f'Could not abort "{image}": {exc.message}')
    else:
        if wants_json:
            return JsonResponse({"stopped": stopped})
        messages.success(request, f'The {stopped} of image "{image}" was aborted; the image is queued again.')
    return redirect(next_or(request, reverse("images")))
