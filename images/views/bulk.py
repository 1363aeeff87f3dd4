"""Acting on many images: the ticked rows of a page, or every image matching the panel's filter
("select all N matching"). The dialogs here only confirm; the action itself is a bulk job run by
a worker (dashboard.bulk, images.bulk) with a progress page and a result per image."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard import bulk
from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.policy import can
from dashboard.redirects import next_or
from images import bulk as actions
from images.api.views import find_image
from images.models import Image
from images.views.table import ImageTable

# The dialog lists this many images by name (with what uses each); the rest are counted.
LISTED = 50


@dataclass
class Selection:
    """What the user chose: ``shown`` are the images the dialog lists (all of them for ticked rows,
    the first LISTED of the filter otherwise); ``total`` counts them all."""

    shown: list[Image]
    total: int
    table: ImageTable | None  # set for "all matching"

    @property
    def hidden_fields(self) -> list[tuple[str, str]]:
        """What the confirmation posts again to name the same selection."""
        if self.table is None:
            return [("id", str(i.pk)) for i in self.shown]
        fields = [("all", "1"), *self.table.params(page="").items()]
        return [*fields, ("admin", "1")] if self.table.admin else fields

    def targets(self, ctx) -> list[tuple[str, str]]:
        """(id, name) of every selected image, in the panel's order, read when the job is made."""
        if self.table is None:
            return [(str(i.pk), i.name or str(i.pk)) for i in self.shown]
        rows = self.table.queryset(ctx).values_list("pk", "name")
        return [(str(pk), name or str(pk)) for pk, name in rows]


def selection(request: HttpRequest) -> Selection:
    ctx = request.ctx
    params = request.POST if request.method == "POST" else request.GET
    if params.get("all") == "1":
        admin = params.get("admin") == "1"
        if admin and not can(ctx, "dashboard:admin_section"):
            raise Http404("No such page.")
        table = ImageTable(params, admin=admin)
        qs = table.queryset(ctx)
        return Selection(list(qs[:LISTED]), qs.count(), table)
    images: list[Image] = []
    for image_id in dict.fromkeys(params.getlist("id")):
        try:
            images.append(find_image(ctx, image_id))
        except StratusError:
            continue
    return Selection(images, len(images), None)


def back(request: HttpRequest) -> str:
    return next_or(request, reverse("images"))


def start(request: HttpRequest, chosen: Selection, action: str, params: dict | None = None) -> HttpResponse:
    spec = actions.ACTIONS[action]
    label = spec.label
    if action == "visibility":
        label = f"Make images {params['visibility']}"
    job = bulk.start_job(
        request.ctx,
        actions.KIND,
        action,
        chosen.targets(request.ctx),
        label=label,
        params=params,
        back_url=back(request),
    )
    return redirect("bulk-job", job_id=job.pk)


VERBS = {"deactivate": "Deactivate", "reactivate": "Reactivate", "visibility": "Change visibility of"}


@policy_required("get_images")
@require_http_methods(["GET", "POST"])
def image_bulk(request: HttpRequest, action: str) -> HttpResponse:
    """Deactivate, reactivate or change the visibility of the selected images, after a dialog."""
    if action not in VERBS:
        raise Http404("No such action.")
    params = {}
    if action == "visibility":
        # "to", not "visibility": that name is the panel's filter, which "all matching" carries along.
        value = request.POST.get("to") or request.GET.get("to", "")
        if value not in actions.VISIBILITIES:
            messages.error(request, "Choose a visibility.")
            return redirect(back(request))
        params = {"visibility": value}
    chosen = selection(request)
    if not chosen.total:
        messages.error(request, "Select at least one image.")
        return redirect(back(request))
    if request.method == "POST" and "confirm" in request.POST:
        return start(request, chosen, action, params)
    verb = VERBS[action]
    what = f" to {actions.VISIBILITIES[params['visibility']].lower()}" if params else ""
    return render(
        request,
        "images/confirm_bulk.html",
        {
            "chosen": chosen,
            "title": f"{verb} {chosen.total} image{'s' if chosen.total != 1 else ''}{what}",
            "submit": f"{verb} image{'s' if chosen.total != 1 else ''}{what}",
            "params": params,
            "next": back(request),
        },
    )
