"""Launch Instance: one page with Details, Source and Flavor; the flavor table, the quota and
what the launch will use follow each choice (htmx re-renders them from the server)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError

from .. import launching, policies
from ..choices import VmState
from ..models import ComputeHost, Flavor
from ..services import servers
from .forms import LaunchForm


def _count(value: str | None) -> int:
    try:
        return max(1, min(100, int(value or 1)))
    except ValueError:
        return 1


@policy_required(policies.SERVERS_CREATE, needs_project=True)
def instance_launch(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    data = request.POST if request.method == "POST" else request.GET
    images, snapshots = launching.launchable_images(ctx)
    by_id = {str(i.pk): i for i in [*images, *snapshots]}
    image = by_id.get(data.get("image", ""))
    source_type = data.get("source_type") or ("snapshot" if image in snapshots else "image")
    if source_type not in ("image", "snapshot"):
        source_type = "image"
    sources = snapshots if source_type == "snapshot" else images
    if image is not None and image not in sources:
        image = None
    count = _count(data.get("count"))
    lines = launching.quota_lines(ctx.project_id)
    options = launching.flavor_options(ctx, image, count, lines)
    chosen = next((o for o in options if o.flavor.pk == data.get("flavor") and o.ok), None)
    launching.with_launch(lines, chosen.flavor if chosen else None, count)
    zones = sorted(set(ComputeHost.objects.values_list("availability_zone", flat=True)))
    form_kwargs = {"zones": zones, "images": sources, "flavors": [o.flavor for o in options]}
    if request.method == "POST":
        form = LaunchForm(request.POST, **form_kwargs)
        if form.is_valid():
            response = _launch(request, form.cleaned_data, by_id)
            if response is not None:
                return response
    else:
        initial = {"source_type": source_type, "count": count, "image": image.pk if image else ""}
        initial.update({k: data[k] for k in ("name", "description", "availability_zone") if k in data})
        form = LaunchForm(initial=initial, **form_kwargs)
    context = {
        "form": form,
        "sources": sources,
        "source_type": source_type,
        "image": image,
        "options": options,
        "chosen": chosen,
        "count": count,
        "quota": list(lines.values()),
        "over_quota": [line for line in lines.values() if line.over],
        "all_over_quota": bool(options)
        and all(launching.quota_reasons(lines, o.flavor, count) for o in options),
        "has_snapshots": bool(snapshots),
    }
    if chosen:
        context["use"] = {
            "vcpus": chosen.flavor.vcpus * count,
            "ram": chosen.flavor.ram * count,
            "disk": (chosen.root_gb + chosen.flavor.ephemeral) * count,
        }
    return render(request, "instances/servers/launch.html", context)


def _launch(request: HttpRequest, data: dict, by_id: dict) -> HttpResponse | None:
    """Launch through the compute service; its refusals (quota, image and flavor, network)
    become messages on the form, and instances no host could take are reported by name."""
    ctx = request.ctx
    flavor = (
        Flavor.objects.launchable_by(ctx).filter(pk=data["flavor"]).prefetch_related("extra_specs").first()
    )
    try:
        created = servers.launch(
            ctx,
            image=by_id[data["image"]],
            flavor=flavor,
            name=data["name"],
            min_count=data["count"],
            max_count=data["count"],
            availability_zone=data["availability_zone"] or None,
            description=data["description"],
        )
    except StratusError as exc:
        messages.error(request, f"Could not launch {data['name']}: {exc.message}")
        return None
    failed = [i for i in created if i.vm_state == VmState.ERROR]
    for instance in failed:
        messages.error(request, f"{instance.name} could not be scheduled: {instance.fault_message}")
    started = [i.name for i in created if i not in failed]
    if started:
        messages.success(request, f"Launching {', '.join(started)}.")
    return redirect("instances")
