"""The instance detail page: Overview, Log (the serial console) and Action Log tabs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.policy import can

from .. import policies
from ..manager import SWAP_TARGET
from ..models import Instance
from ..services.console import console_output
from . import rows
from .common import visible_instance
from .forms import ConsoleForm

TABS = ("overview", "log", "actions")


@dataclass(frozen=True)
class Disk:
    target: str
    size: str
    source: str


def disks_of(instance: Instance, image_name: str) -> list[Disk]:
    """The guest's disks as the compute agent attaches them (instances.manager.guest_spec)."""
    out = [Disk("vda", f"{instance.root_gb} GB", f"root disk: a copy-on-write overlay of image {image_name}")]
    if instance.ephemeral_gb:
        out.append(Disk("vdb", f"{instance.ephemeral_gb} GB", "ephemeral disk from the flavor, blank, local"))
    # vdc and the next targets are kept for volumes.
    if instance.swap_mb:
        out.append(Disk(SWAP_TARGET, f"{instance.swap_mb} MB", "swap disk from the flavor, local"))
    return out


def image_link(image_id: str) -> str | None:
    """The Images panel's page of the image, when that panel is installed."""
    if not image_id:
        return None
    try:
        return reverse("image-detail", args=[image_id])
    except NoReverseMatch:
        return f"/image/v2/images/{image_id}"


@policy_required(policies.SERVERS_SHOW)
def instance_detail(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    instance = visible_instance(request, instance_id)
    ctx = request.ctx
    tab = request.GET.get("tab", "overview")
    if tab not in TABS:
        tab = "overview"
    names = rows.image_names([instance.image_id])
    image_name = names.get(instance.image_id, instance.image_id or "—")
    row = rows.build_row(instance, rows.Permissions(ctx), image_name)
    context = {
        "instance": instance,
        "row": row,
        "tab": tab,
        "image_name": image_name,
        "image_url": image_link(instance.image_id) if instance.image_id in names else None,
        "show_host": can(ctx, policies.EXTENDED_SERVER_ATTRIBUTES, {"project_id": instance.project_id}),
        "disks": disks_of(instance, image_name),
        "can_log": can(ctx, policies.CONSOLE_OUTPUT, {"project_id": instance.project_id}),
    }
    if tab == "actions":
        context["actions"] = instance.actions.select_related("user").order_by("-start_time", "-id")
    return render(request, "instances/servers/detail.html", context)


@policy_required(policies.SERVERS_SHOW)
def instance_console(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    """The last N lines of the serial console (an htmx partial of the Log tab)."""
    instance = visible_instance(request, instance_id)
    if not can(request.ctx, policies.CONSOLE_OUTPUT, {"project_id": instance.project_id}):
        raise PermissionDenied("You may not read this instance's console.")
    form = ConsoleForm(request.GET)
    lines = form.cleaned_data.get("lines") if form.is_valid() else None
    lines = lines or 50
    output, error = "", ""
    try:
        output = console_output(instance, lines)
    except StratusError as exc:
        error = exc.message
    return render(
        request,
        "instances/servers/_console.html",
        {"instance": instance, "output": output, "error": error, "lines": lines},
    )
