"""Resize, rebuild and rescue from the dashboard: the Resize dialog (the flavor table with the
reasons each flavor cannot be used, as Launch shows it), Rebuild and Rescue dialogs, and the
Confirm Resize / Revert Resize / Unrescue buttons. Every one calls the same service as the API."""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.forms import BootstrapMixin
from dashboard.policy import can
from flavors.models import Flavor
from images.models import Image
from instances import policies
from instances.models import ComputeHost, Instance
from instances.services import live_migration, rebuild, resize
from instances.views import launch_options, rows
from instances.views.common import back_url, visible_instance


def _allowed(request: HttpRequest, instance: Instance, name: str) -> rows.RowAction:
    op = rows.OPS_BY_NAME[name]
    if not can(request.ctx, op.rule, {"project_id": instance.project_id}):
        raise PermissionDenied(f"You may not {op.label.lower()} for this instance.")
    return op


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_SHOW)
def instance_resize(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    instance = visible_instance(request, instance_id)
    _allowed(request, instance, "resize")
    error, chosen = "", request.POST.get("flavor", "")
    if request.method == "POST":
        flavor = (
            Flavor.objects.launchable_by(request.ctx)
            .filter(pk=chosen)
            .prefetch_related("extra_specs")
            .first()
        )
        if flavor is None:
            error = "Choose a flavor."
        else:
            try:
                resize.begin_resize(request.ctx, instance, flavor)
            except StratusError as exc:
                error = exc.message
            else:
                messages.success(
                    request,
                    f"Resize of {instance.name} to {flavor.name} requested; confirm or revert it once it "
                    "shows Verify Resize.",
                )
                return redirect(back_url(request))
    options = launch_options.resize_options(request.ctx, instance, settings.COMPUTE_ALLOW_RESIZE_TO_SAME_HOST)
    return render(
        request,
        "instances/servers/resize.html",
        {
            "instance": instance,
            "options": options,
            "chosen_pk": chosen,
            "error": error,
            "state_ok": rows.op_allowed(instance, "resize"),
            "next": back_url(request),
        },
    )


@require_POST
@policy_required(policies.SERVERS_SHOW)
def instance_op(request: HttpRequest, instance_id: uuid.UUID, name: str) -> HttpResponse:
    """Confirm Resize, Revert Resize, Unrescue, Migrate (the scheduler picks the new host): no
    questions to ask, so a POST from the row."""
    if name not in ("confirm_resize", "revert_resize", "unrescue", "migrate"):
        raise PermissionDenied("No such action.")
    instance = visible_instance(request, instance_id)
    op = _allowed(request, instance, name)
    run = {
        "confirm_resize": resize.confirm_resize,
        "revert_resize": resize.begin_revert,
        "unrescue": rebuild.begin_unrescue,
        "migrate": resize.begin_migrate,
    }[name]
    try:
        run(request.ctx, instance)
    except StratusError as exc:
        messages.error(request, f"{op.label} of {instance.name} was refused: {exc.message}")
    else:
        messages.success(request, f"{op.label}: requested for {instance.name}.")
    return redirect(back_url(request))


class ImageChoiceForm(BootstrapMixin, forms.Form):
    image = forms.ChoiceField(label="Image")

    def __init__(self, *args, images: list[Image], blank: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(i.pk), i.name or str(i.pk)) for i in images]
        if blank:
            choices.insert(0, ("", blank))
            self.fields["image"].required = False
        self.fields["image"].choices = choices


def _images(request: HttpRequest) -> list[Image]:
    images, snapshots = launch_options.launchable_images(request.ctx)
    return images + snapshots


def _image_dialog(request: HttpRequest, instance_id: uuid.UUID, name: str) -> HttpResponse:
    instance = visible_instance(request, instance_id)
    op = _allowed(request, instance, name)
    images = _images(request)
    blank = "The instance's own image" if name == "rescue" else ""
    form = ImageChoiceForm(
        request.POST or None, images=images, blank=blank, initial={"image": instance.image_id}
    )
    if request.method == "POST" and form.is_valid():
        image = next((i for i in images if str(i.pk) == form.cleaned_data["image"]), None)
        if image is None and name == "rescue" and instance.image_id:
            image = Image.objects.filter(pk=instance.image_id).first()
        try:
            if image is None:
                form.add_error("image", "Choose an image.")
            elif name == "rebuild":
                rebuild.begin_rebuild(request.ctx, instance, image, rebuild.RebuildRequest())
            else:
                rebuild.begin_rescue(request.ctx, instance, image)
        except StratusError as exc:
            form.add_error(None, exc.message)
        if image is not None and not form.errors:
            messages.success(request, f"{op.label}: requested for {instance.name}.")
            return redirect(back_url(request))
    return render(
        request,
        "generic/form.html",
        {
            "form": form,
            "title": f"{op.label}: {instance.name}",
            "submit": op.label.split()[0],
            "cancel_url": back_url(request),
        },
    )


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_SHOW)
def instance_rebuild(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    return _image_dialog(request, instance_id, "rebuild")


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_SHOW)
def instance_rescue(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    return _image_dialog(request, instance_id, "rescue")


class LiveMigrateForm(BootstrapMixin, forms.Form):
    host = forms.ChoiceField(
        label="New host",
        required=False,
        help_text="The guest keeps running; its memory and local disks are copied to the new host.",
    )

    def __init__(self, *args, instance: Instance, **kwargs):
        super().__init__(*args, **kwargs)
        hosts = ComputeHost.objects.schedulable().exclude(pk=instance.host_id).order_by("name")
        self.fields["host"].choices = [("", "Automatically schedule a new host")] + [
            (h.name, f"{h.name} ({h.free_memory_mb:.0f} MB RAM free, zone {h.availability_zone})")
            for h in hosts
        ]


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_SHOW)
def instance_live_migrate(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    """Admin: Live Migrate, to a host of the admin's choice or the scheduler's."""
    instance = visible_instance(request, instance_id)
    op = _allowed(request, instance, "live_migrate")
    form = LiveMigrateForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            target = live_migration.begin(request.ctx, instance, form.cleaned_data["host"] or None, "auto")
        except StratusError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{op.label}: {instance.name} is moving to {target.name}.")
            return redirect(back_url(request))
    return render(
        request,
        "generic/form.html",
        {
            "form": form,
            "title": f"{op.label}: {instance.name} (on {instance.host.name if instance.host else 'no host'})",
            "submit": "Live Migrate",
            "cancel_url": back_url(request),
        },
    )
