"""The Project → Volumes panel: the table (rows in a transitional status refresh themselves,
backing off from 2 s to 30 s) and its actions, all through the volume services."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.policy import can
from images.models import Image
from instances import policies
from instances.api.servers import get_server
from instances.api.volumes import get_volume
from instances.choices import VOLUME_TRANSITIONAL
from instances.forms.volumes import AttachForm, CreateForm, EditForm, ExtendForm, UploadForm
from instances.models import Instance, Volume
from instances.services import attachments, volume_images, volumes

ROW_DELAYS = (2, 4, 8, 16, 30)


def _allowed(ctx) -> dict[str, bool]:
    target = {"project_id": ctx.project_id}
    return {
        "create": can(ctx, policies.VOLUME_CREATE, target),
        "update": can(ctx, policies.VOLUME_UPDATE, target),
        "extend": can(ctx, policies.VOLUME_EXTEND, target),
        "delete": can(ctx, policies.VOLUME_DELETE, target),
        "upload": can(ctx, policies.VOLUME_UPLOAD_IMAGE, target),
        "attach": can(ctx, policies.ATTACHMENTS_CREATE, target)
        and can(ctx, policies.ATTACHMENTS_DELETE, target),
        "launch": can(ctx, policies.SERVERS_CREATE, target),
    }


def _row_context(volume: Volume, allowed: dict, delay: int) -> dict:
    polling = volume.status in VOLUME_TRANSITIONAL
    following = next((d for d in ROW_DELAYS if d > delay), ROW_DELAYS[-1])
    return {"v": volume, "allowed": allowed, "polling": polling, "delay": delay, "next_delay": following}


@policy_required(policies.VOLUME_GET_ALL)
def volume_list(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    allowed = _allowed(ctx)
    rows = [
        _row_context(v, allowed, ROW_DELAYS[0]) for v in Volume.objects.for_project(ctx.project_id).for_api()
    ]
    usage, limits = volumes.quota_usage(ctx.project_id), volumes.quota_limits(ctx.project_id)
    return render(
        request,
        "instances/volumes/list.html",
        {"rows": rows, "allowed": allowed, "usage": usage, "limits": limits},
    )


@policy_required(policies.VOLUME_GET)
def volume_row(request: HttpRequest, volume_id: str) -> HttpResponse:
    volume = get_volume(request.ctx, volume_id)
    try:
        delay = int(request.GET.get("delay", ROW_DELAYS[0]))
    except ValueError:
        delay = ROW_DELAYS[0]
    return render(request, "instances/volumes/_row.html", _row_context(volume, _allowed(request.ctx), delay))


def _form_page(request, form, title: str, submit: str) -> HttpResponse:
    return render(
        request,
        "generic/form.html",
        {"form": form, "title": title, "submit": submit, "cancel_url": reverse("project-volumes")},
    )


def _done(request, run, success: str):
    try:
        run()
    except StratusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("project-volumes")


@policy_required(policies.VOLUME_CREATE)
@require_http_methods(["GET", "POST"])
def volume_create(request: HttpRequest) -> HttpResponse:

    ctx = request.ctx
    images = Image.objects.visible_to(ctx).filter(status="active", disk_format__in=("raw", "qcow2"))
    form = CreateForm(request.POST or None, images=images)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        image = (
            images.prefetch_related("locations").filter(pk=data["source"]).first() if data["source"] else None
        )
        return _done(
            request,
            lambda: volumes.create_volume(
                ctx, size=data["size"], name=data["name"], description=data["description"], image=image
            ),
            f'Creating volume "{data["name"] or "(unnamed)"}".',
        )
    return _form_page(request, form, "Create Volume", "Create Volume")


@policy_required(policies.VOLUME_UPDATE)
@require_http_methods(["GET", "POST"])
def volume_edit(request: HttpRequest, volume_id: str) -> HttpResponse:
    volume = get_volume(request.ctx, volume_id, api=False)
    initial = {"name": volume.name, "description": volume.description, "bootable": volume.bootable}
    form = EditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def run():
            volumes.update_volume(volume, name=data["name"], description=data["description"])
            volumes.set_bootable(volume, data["bootable"])

        return _done(request, run, f'Updated volume "{data["name"] or volume.pk}".')
    return _form_page(request, form, f"Edit Volume {volume}", "Save")


@policy_required(policies.VOLUME_EXTEND)
@require_http_methods(["GET", "POST"])
def volume_extend(request: HttpRequest, volume_id: str) -> HttpResponse:
    volume = get_volume(request.ctx, volume_id, api=False)
    form = ExtendForm(request.POST or None, initial={"new_size": volume.size + 1})
    if request.method == "POST" and form.is_valid():
        size = form.cleaned_data["new_size"]
        return _done(
            request,
            lambda: volumes.begin_extend(request.ctx, volume, size),
            f"Extending volume {volume} to {size} GiB.",
        )
    return _form_page(request, form, f"Extend Volume {volume} ({volume.size} GiB)", "Extend Volume")


@policy_required(policies.ATTACHMENTS_CREATE)
@require_http_methods(["GET", "POST"])
def volume_attachments(request: HttpRequest, volume_id: str) -> HttpResponse:
    """Manage Attachments: attach to an instance of the project, or detach."""
    ctx = request.ctx
    volume = get_volume(ctx, volume_id)
    current = volume.attachment
    if request.method == "POST" and current is not None:
        instance = get_server(ctx, str(current.instance_id))
        return _done(
            request, lambda: attachments.begin_detach(ctx, instance, volume), f"Detaching volume {volume}."
        )
    form = AttachForm(request.POST or None)
    form.fields["instance"].choices = [
        (str(i.pk), i.name) for i in Instance.objects.for_project(ctx.project_id).filter(host__isnull=False)
    ]
    if request.method == "POST" and form.is_valid():
        instance = get_server(ctx, form.cleaned_data["instance"])
        return _done(
            request,
            lambda: attachments.begin_attach(ctx, instance, volume),
            f"Attaching volume {volume} to {instance.name}.",
        )
    return render(
        request,
        "instances/volumes/attachments.html",
        {"volume": volume, "attachment": current, "form": form, "cancel_url": reverse("project-volumes")},
    )


@policy_required(policies.VOLUME_UPLOAD_IMAGE)
@require_http_methods(["GET", "POST"])
def volume_upload(request: HttpRequest, volume_id: str) -> HttpResponse:
    volume = get_volume(request.ctx, volume_id, api=False)
    form = UploadForm(request.POST or None, initial={"image_name": f"{volume.name or volume.pk}-image"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        return _done(
            request,
            lambda: volume_images.begin_upload(request.ctx, volume, data["image_name"], data["disk_format"]),
            f'Uploading volume {volume} to image "{data["image_name"]}".',
        )
    return _form_page(request, form, f"Upload Volume {volume} to Image", "Upload")


@policy_required(policies.VOLUME_DELETE)
@require_http_methods(["GET", "POST"])
def volume_delete(request: HttpRequest, volume_id: str) -> HttpResponse:
    volume = get_volume(request.ctx, volume_id, api=False)
    if request.method == "POST":
        return _done(request, lambda: volumes.begin_delete(request.ctx, volume), f"Deleting volume {volume}.")
    return render(
        request,
        "generic/confirm.html",
        {
            "title": "Delete Volume",
            "items": [f"{volume} ({volume.size} GiB, {volume.get_status_display()})"],
            "warning": "The volume and all data on it will be deleted. This cannot be undone.",
            "submit": "Delete Volume",
            "cancel_url": reverse("project-volumes"),
        },
    )
