"""The instance detail page: Overview, Log (the serial console, followed live), Console (noVNC,
see consoles.py) and Action Log tabs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.text import slugify

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.policy import can
from instances import policies
from instances.compute.manager import SWAP_TARGET
from instances.forms.instances import ConsoleForm, PortForwardForm
from instances.models import Instance, Volume, VolumeAttachment
from instances.services.attachments import attached_disks
from instances.services.console import console_log, console_output
from instances.views import rows
from instances.views.common import visible_instance
from instances.views.consoles import allow_console_websocket, session_console

TABS = ("overview", "log", "console", "actions")
# The Log tab's "show last N lines" choices.
LOG_LENGTHS = (25, 50, 100, 500, 1000)


@dataclass(frozen=True)
class Disk:
    target: str
    size: str
    source: str
    volume: Volume | None = None
    delete_on_termination: bool | None = None  # None: a local disk, it always goes
    kept: str = ""  # what stays of a device that is not a disk of the instance's own (an ISO's image)


def disks_of(instance: Instance, image_name: str, attachments: list[VolumeAttachment] = ()) -> list[Disk]:
    """The guest's disks as the compute agent attaches them (instances.compute.manager.guest_spec): the
    root disk (a local overlay, the boot volume, or a blank disk behind an ISO's CD-ROM), the flavor's
    ephemeral and swap disks, and the attached volumes on the targets after them."""
    by_device = {a.device: a for a in attachments}
    root = by_device.pop("vda", None)
    if root is not None:
        made_from = root.volume.volume_image_metadata.get("image_name")
        out = [
            Disk(
                "vda",
                f"{root.volume.size} GB",
                "root disk: persistent volume" + (f", made from image {made_from}" if made_from else ""),
                root.volume,
                root.delete_on_termination,
            )
        ]
    elif instance.boots_from_iso:
        out = [
            Disk(
                "cdrom",
                "",
                f"CD-ROM: image {image_name} (ISO), read-only, first in the boot order",
                kept="no, the image stays",
            ),
            Disk(
                "vda",
                f"{instance.root_gb} GB",
                "root disk: blank at launch, local, for the ISO to install onto",
            ),
        ]
    else:
        out = [
            Disk("vda", f"{instance.root_gb} GB", f"root disk: a copy-on-write overlay of image {image_name}")
        ]
    if instance.ephemeral_gb:
        out.append(Disk("vdb", f"{instance.ephemeral_gb} GB", "ephemeral disk from the flavor, blank, local"))
    for device in sorted(by_device):
        a = by_device[device]
        out.append(
            Disk(device, f"{a.volume.size} GB", "persistent volume", a.volume, a.delete_on_termination)
        )
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
    can_console = can(ctx, policies.REMOTE_CONSOLES, {"project_id": instance.project_id})
    tab = request.GET.get("tab", "overview")
    if tab not in TABS or (tab == "console" and not can_console):
        tab = "overview"
    names = rows.image_names([instance.image_id])
    image_name = names.get(instance.image_id, instance.image_id or "—")
    row = rows.build_row(instance, rows.Permissions(ctx), image_name)
    disks = disks_of(instance, image_name, attached_disks(instance.pk))
    context = {
        "instance": instance,
        "row": row,
        "tab": tab,
        "image_name": image_name,
        "image_url": image_link(instance.image_id) if instance.image_id in names else None,
        "show_host": can(ctx, policies.EXTENDED_SERVER_ATTRIBUTES, {"project_id": instance.project_id}),
        "disks": disks,
        "has_volumes": any(d.volume is not None for d in disks),
        "can_log": can(ctx, policies.CONSOLE_OUTPUT, {"project_id": instance.project_id}),
        "can_console": can_console,
        "log_lengths": LOG_LENGTHS,
        "forwards": list(instance.port_forwards.all()),
        "can_add_forward": can(ctx, policies.PORT_FORWARDS_CREATE, {"project_id": instance.project_id})
        and instance.host is not None
        and instance.host.networking.get("mode") == "bridge",
        "can_remove_forward": can(ctx, policies.PORT_FORWARDS_DELETE, {"project_id": instance.project_id}),
        "forward_form": PortForwardForm(),
    }
    if tab == "actions":
        context["actions"] = (
            instance.actions.select_related("user").prefetch_related("events").order_by("-start_time", "-id")
        )
    if tab == "console":
        context.update(session_console(request, instance))
        context["console_page"] = reverse("instance-console-page", args=[instance.pk])
    response = render(request, "instances/servers/detail.html", context)
    if tab == "console":
        allow_console_websocket(request, response)
    return response


def readable_log(request: HttpRequest, instance_id: uuid.UUID) -> Instance:
    instance = visible_instance(request, instance_id)
    if not can(request.ctx, policies.CONSOLE_OUTPUT, {"project_id": instance.project_id}):
        raise PermissionDenied("You may not read this instance's console.")
    return instance


@policy_required(policies.SERVERS_SHOW)
def instance_log(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    """The last N lines of the serial console (the htmx partial the Log tab polls)."""
    instance = readable_log(request, instance_id)
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
        "instances/servers/_log.html",
        {"instance": instance, "output": output, "error": error, "lines": lines},
    )


@policy_required(policies.SERVERS_SHOW)
def instance_log_download(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    """The whole serial log as a file, streamed from the compute host as it is read."""
    instance = readable_log(request, instance_id)
    try:
        chunks = console_log(instance)
    except StratusError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(chunks, content_type="text/plain; charset=utf-8")
    name = slugify(instance.name) or str(instance.pk)
    response["Content-Disposition"] = f'attachment; filename="console-{name}.log"'
    response["Cache-Control"] = "no-store"
    return response
