"""Launch Instance: one page with Details, Source, Flavor and Volumes; the flavor table, the
volume options, the quota and what the launch will use follow each choice (htmx re-renders
them from the server)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from flavors.models import Flavor
from instances import policies
from instances.choices import VmState
from instances.forms.instances import LaunchForm
from instances.models import ComputeHost
from instances.services import servers
from instances.services.attachments import BootVolume
from instances.views import launch_options as launching


def _count(value: str | None) -> int:
    try:
        return max(1, min(100, int(value or 1)))
    except ValueError:
        return 1


def _volume_size(value: str | None, minimum: int) -> int:
    """The size the page shows (and the summary counts) before the form is submitted."""
    try:
        return max(1, int(value)) if value else minimum
    except ValueError:
        return minimum


@policy_required(policies.SERVERS_CREATE, needs_project=True)
def instance_launch(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    data = request.POST if request.method == "POST" else request.GET
    images, snapshots = launching.launchable_images(ctx)
    boot_volumes = launching.launchable_volumes(ctx)
    by_id = {str(i.pk): i for i in [*images, *snapshots]}
    volume_by_id = {str(v.pk): v for v in boot_volumes}
    image = by_id.get(data.get("image", ""))
    volume = volume_by_id.get(data.get("volume", ""))
    source_type = data.get("source_type") or (
        "volume" if volume is not None else "snapshot" if image in snapshots else "image"
    )
    if source_type not in ("image", "snapshot", "volume"):
        source_type = "image"
    sources = snapshots if source_type == "snapshot" else images if source_type == "image" else []
    if image is not None and image not in sources:
        image = None
    if source_type != "volume":
        volume = None
    create_volume = source_type != "volume" and data.get("create_volume") == "yes"
    on_volume = source_type == "volume" or create_volume
    min_size = launching.min_volume_gb(image) if image is not None else 1
    volume_size = _volume_size(data.get("volume_size"), min_size) if create_volume else None
    asked = _count(data.get("count"))
    count = 1 if on_volume else asked
    lines = launching.quota_lines(ctx.project_id)
    volume_lines = launching.volume_quota_lines(ctx.project_id, volume_size)
    options = launching.flavor_options(ctx, image, count, lines, on_volume=on_volume)
    chosen = next((o for o in options if o.flavor.pk == data.get("flavor") and o.ok), None)
    launching.with_launch(lines, chosen.flavor if chosen else None, count)
    zones = sorted(set(ComputeHost.objects.values_list("availability_zone", flat=True)))
    form_kwargs = {
        "zones": zones,
        "images": sources,
        "volumes": boot_volumes,
        "flavors": [o.flavor for o in options],
    }
    if request.method == "POST":
        form = LaunchForm(request.POST, **form_kwargs)
        if form.is_valid():
            response = _launch(request, form.cleaned_data, by_id, volume_by_id)
            if response is not None:
                return response
    else:
        initial = {"source_type": source_type, "count": count, "image": image.pk if image else ""}
        initial.update({k: data[k] for k in ("name", "description", "availability_zone") if k in data})
        form = LaunchForm(initial=initial, **form_kwargs)
        if on_volume:
            form.fields["count"].widget.attrs["readonly"] = True
    context = {
        "form": form,
        "sources": sources,
        "source_type": source_type,
        "image": image,
        "boot_volumes": boot_volumes,
        "volume": volume,
        "create_volume": create_volume,
        "on_volume": on_volume,
        "count_forced": on_volume and asked > 1,
        "min_size": min_size,
        "volume_size": volume_size,
        "delete_on_termination": data.get("delete_on_termination") == "yes",
        "options": options,
        "chosen": chosen,
        "count": count,
        "quota": [*lines.values(), *volume_lines.values()],
        "volume_quota": volume_lines,
        "volume_over_quota": create_volume and any(line.over for line in volume_lines.values()),
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


def _boot_volume(data: dict, by_id: dict, volume_by_id: dict) -> BootVolume | None:
    """What the Volumes section asks for, as the compute service takes it (None: local disks)."""
    delete = data.get("delete_on_termination") == "yes"
    if data["source_type"] == "volume":
        return BootVolume(volume=volume_by_id[data["volume"]], delete_on_termination=delete)
    if data.get("create_volume") == "yes":
        return BootVolume(image=by_id[data["image"]], size=data["volume_size"], delete_on_termination=delete)
    return None


def _launch(request: HttpRequest, data: dict, by_id: dict, volume_by_id: dict) -> HttpResponse | None:
    """Launch through the compute service; its refusals (quota, image and flavor, volume,
    network) become messages on the form, and instances no host could take are reported by name."""
    ctx = request.ctx
    flavor = (
        Flavor.objects.launchable_by(ctx).filter(pk=data["flavor"]).prefetch_related("extra_specs").first()
    )
    boot_volume = _boot_volume(data, by_id, volume_by_id)
    try:
        created = servers.launch(
            ctx,
            image=by_id.get(data["image"]) if data["source_type"] != "volume" else None,
            flavor=flavor,
            name=data["name"],
            min_count=data["count"],
            max_count=data["count"],
            availability_zone=data["availability_zone"] or None,
            description=data["description"],
            boot_volume=boot_volume,
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
