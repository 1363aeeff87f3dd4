"""Changing images from the dashboard: edit, metadata, delete, (de)activate and members.

Each view goes through the same functions as the Image API (``patch.apply`` for metadata, the
services for the rest) under the same policy rules, so a hidden button is also a refused request."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from dashboard import metadata_catalog
from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.models import Project
from dashboard.policy import authorize, can
from dashboard.redirects import next_or
from images import services
from images.api import patch
from images.api.fields import readable
from images.choices import MemberStatus
from images.forms import ARCHITECTURES, EditImageForm, MemberForm, MetadataForm
from images.models import Image
from images.policies import target
from images.usage import image_usage
from images.views import bulk as bulk_views
from images.views.pages import get_image


def _back(request: HttpRequest, image: Image | None = None) -> str:
    """Return to the page the action started from (panel with its filters, or the detail page)."""
    return next_or(
        request, reverse("image-detail", args=[image.pk]) if image is not None else reverse("images")
    )


def _forbidden_unless(request: HttpRequest, rule: str, image: Image) -> None:
    authorize(request.ctx, rule, target(request.ctx, image))


@policy_required("modify_image")
@require_http_methods(["GET", "POST"])
def image_edit(request: HttpRequest, image_id: str) -> HttpResponse:
    image = get_image(request, image_id)
    try:
        _forbidden_unless(request, "modify_image", image)
    except StratusError as exc:
        messages.error(request, exc.message)
        return redirect(_back(request, image))
    form = EditImageForm(request.POST or None, ctx=request.ctx, image=image)
    if request.method == "POST" and form.is_valid():
        try:
            patch.apply(request.ctx, image, form.patch_operations())
        except StratusError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f'Image "{form.cleaned_data["name"]}" was updated.')
            return redirect(_back(request, image))
    return render(
        request,
        "images/edit.html",
        {"image": image, "form": form, "architectures": ARCHITECTURES, "next": _back(request, image)},
    )


@policy_required("modify_image")
@require_http_methods(["GET", "POST"])
def image_metadata(request: HttpRequest, image_id: str) -> HttpResponse:
    """Free properties as key/value rows; properties this user may not read are neither shown nor
    touched, and property protections decide each change (as in PATCH /v2/images/{id})."""
    image = get_image(request, image_id)
    ctx = request.ctx
    shown = {k: v for k, v in sorted(image.properties.items()) if readable(ctx, k)}
    form = MetadataForm(
        request.POST if request.method == "POST" else None, ctx=ctx, image=image, readable=shown
    )
    if request.method == "POST" and form.is_valid():
        try:
            patch.apply(ctx, image, form.patch_operations())
        except StratusError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f'Metadata of image "{image}" was updated.')
            return redirect(_back(request, image))
    namespaces = metadata_catalog.known_properties(ctx, metadata_catalog.IMAGE)
    known = metadata_catalog.by_key(namespaces)
    return render(
        request,
        "images/metadata.html",
        {
            "image": image,
            "form": form,
            "rows": [(key, value, known.get(key.strip())) for key, value in form.rows],
            "namespaces": namespaces,
            "blank_rows": range(2),
            "next": _back(request, image),
        },
    )


@policy_required("delete_image")
@require_http_methods(["GET", "POST"])
def image_delete(request: HttpRequest) -> HttpResponse:
    """Delete the ticked images (``?id=…&id=…``) or every image matching the panel's filter
    (``?all=1&…``) after a dialog listing them, what uses them, and which will be refused; the
    deletion is a bulk job with a result per image."""
    ctx = request.ctx
    chosen = bulk_views.selection(request)
    back = _back(request)
    if not chosen.total:
        messages.error(request, "Select at least one image to delete.")
        return redirect(back)
    if request.method == "POST" and "confirm" in request.POST:
        return bulk_views.start(request, chosen, "delete")
    usage = image_usage(ctx, chosen.shown)
    rows = []
    for image in chosen.shown:
        refusal = ""
        if not can(ctx, "delete_image", target(ctx, image)):
            refusal = "You are not allowed to delete this image."
        elif image.protected:
            refusal = "Protected: turn protection off (Edit Image) before deleting it."
        rows.append({"image": image, "usage": usage[str(image.pk)], "refusal": refusal})
    protected = sum(1 for r in rows if r["refusal"])
    if chosen.table is not None:
        protected = chosen.table.queryset(ctx).filter(protected=True).count()
    return render(
        request,
        "images/confirm_delete.html",
        {
            "rows": rows,
            "chosen": chosen,
            "more": chosen.total - len(rows),
            "refused": protected,
            "deletable": chosen.table is not None or any(not r["refusal"] for r in rows),
            "next": back,
        },
    )


@policy_required("get_images")
@require_POST
def image_action(request: HttpRequest, image_id: str, action: str) -> HttpResponse:
    image = get_image(request, image_id)
    if action not in ("deactivate", "reactivate"):
        messages.error(request, "Unknown action.")
        return redirect(_back(request, image))
    try:
        _forbidden_unless(request, action, image)
        getattr(services, action)(image)
    except StratusError as exc:
        messages.error(request, f'Could not {action} image "{image}": {exc.message}')
    else:
        messages.success(request, f'Image "{image}" was {action}d.')
    return redirect(_back(request, image))


@policy_required("get_images")
@require_http_methods(["GET", "POST"])
def image_members(request: HttpRequest, image_id: str) -> HttpResponse:
    """Share a `shared` image with other projects, or stop sharing it."""
    image = get_image(request, image_id)
    ctx = request.ctx
    form = MemberForm(request.POST or None, image=image)
    if request.method == "POST":
        try:
            if "remove" in request.POST:
                _forbidden_unless(request, "delete_member", image)
                membership = image.members.filter(member=request.POST["remove"]).first()
                if membership is not None:
                    membership.delete()
                    messages.success(request, "The project no longer shares this image.")
                return redirect(reverse("image-members", args=[image.pk]))
            _forbidden_unless(request, "add_member", image)
            if form.is_valid():
                services.add_member(image, form.project.id)
                messages.success(
                    request, f'Shared "{image}" with {form.project.name}; it is pending until they accept it.'
                )
                return redirect(reverse("image-members", args=[image.pk]))
        except StratusError as exc:
            form.add_error(None, exc.message)
    members = list(image.members.all())
    names = dict(Project.objects.filter(id__in=[m.member for m in members]).values_list("id", "name"))
    policy_target = target(ctx, image)
    return render(
        request,
        "images/members.html",
        {
            "image": image,
            "form": form,
            "members": [(m, names.get(m.member, m.member)) for m in members],
            "can_add": can(ctx, "add_member", policy_target) and image.visibility == "shared",
            "can_remove": can(ctx, "delete_member", policy_target),
        },
    )


@policy_required("get_images")
@require_POST
def image_respond(request: HttpRequest, image_id: str) -> HttpResponse:
    """The member project accepts or rejects an image shared with it."""
    image = get_image(request, image_id)
    ctx = request.ctx
    status = request.POST.get("status", "")
    membership = image.members.filter(member=ctx.project_id).first()
    try:
        if membership is None or status not in MemberStatus.values:
            raise StratusError("This image is not shared with your project.", status=404)
        authorize(ctx, "modify_member", {**target(ctx, image), "member_id": ctx.project_id})
        services.set_member_status(membership, status)
    except StratusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f'Image "{image}" is now {MemberStatus(status).label.lower()} in this project.'
        )
    return redirect(_back(request, image))
