"""Launch Instance: one page with Details, Source, Flavor, Volumes, and Key Pair and Configuration;
the flavor table, the volume options, the quota and what the launch will use follow each choice
(htmx re-renders them from the server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from flavors.models import Flavor
from instances import policies
from instances.choices import VmState
from instances.forms.instances import LaunchForm
from instances.models import KeyPair, ServerGroup
from instances.services import hardware, hosts, server_groups, servers
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


@dataclass
class LaunchPlan:
    """What the page's choices so far amount to: the boot source (image, snapshot or volume), the
    image or volume picked, whether a new volume is made and of what size, and how many instances
    (one when booting from a volume, which only one instance can use)."""

    images: list
    snapshots: list
    boot_volumes: list
    source_type: str
    image: Any
    volume: Any
    create_volume: bool
    volume_size: int | None
    min_size: int
    asked: int

    @classmethod
    def read(cls, ctx, data) -> LaunchPlan:
        images, snapshots = launching.launchable_images(ctx)
        boot_volumes = launching.launchable_volumes(ctx)
        image = next((i for i in [*images, *snapshots] if str(i.pk) == data.get("image", "")), None)
        volume = next((v for v in boot_volumes if str(v.pk) == data.get("volume", "")), None)
        source_type = data.get("source_type") or (
            "volume" if volume is not None else "snapshot" if image in snapshots else "image"
        )
        if source_type not in ("image", "snapshot", "volume"):
            source_type = "image"
        plan = cls(images, snapshots, boot_volumes, source_type, None, None, False, None, 1, 1)
        plan.image = image if image in plan.sources else None
        plan.volume = volume if source_type == "volume" else None
        plan.create_volume = source_type != "volume" and data.get("create_volume") == "yes"
        plan.min_size = launching.min_volume_gb(plan.image) if plan.image is not None else 1
        if plan.create_volume:
            plan.volume_size = _volume_size(data.get("volume_size"), plan.min_size)
        plan.asked = _count(data.get("count"))
        return plan

    def hardware(self) -> tuple[str, str]:
        """What the chosen image (or the image a chosen volume was made from) asks of the guest's
        hardware, and why a launch would be refused ("" when it would not)."""
        if self.volume is not None:
            return hardware.summary(BootVolume(volume=self.volume).image_properties)
        if self.image is not None:
            return hardware.summary(self.image.properties or {}, self.image.disk_format)
        return "", ""

    @property
    def sources(self) -> list:
        return {"snapshot": self.snapshots, "image": self.images}.get(self.source_type, [])

    @property
    def on_volume(self) -> bool:
        return self.source_type == "volume" or self.create_volume

    @property
    def count(self) -> int:
        return 1 if self.on_volume else self.asked

    def image_by_id(self, image_id: str):
        return next((i for i in [*self.images, *self.snapshots] if str(i.pk) == image_id), None)

    def boot_volume(self, data: dict) -> BootVolume | None:
        """What the submitted Volumes section asks for, as the compute service takes it (None: local
        disks)."""
        delete = data.get("delete_on_termination") == "yes"
        if data["source_type"] == "volume":
            chosen = next(v for v in self.boot_volumes if str(v.pk) == data["volume"])
            return BootVolume(volume=chosen, delete_on_termination=delete)
        if data.get("create_volume") == "yes":
            image = self.image_by_id(data["image"])
            return BootVolume(image=image, size=data["volume_size"], delete_on_termination=delete)
        return None


@policy_required(policies.SERVERS_CREATE, needs_project=True)
def instance_launch(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    data = request.POST if request.method == "POST" else request.GET
    plan = LaunchPlan.read(ctx, data)
    lines = launching.quota_lines(ctx.project_id)
    volume_lines = launching.volume_quota_lines(ctx.project_id, plan.volume_size)
    options = launching.flavor_options(ctx, plan.image, plan.count, lines, on_volume=plan.on_volume)
    chosen = next((o for o in options if o.flavor.pk == data.get("flavor") and o.ok), None)
    launching.with_launch(lines, chosen.flavor if chosen else None, plan.count)
    form_kwargs = {
        "zones": hosts.available_zones(),
        "images": plan.sources,
        "volumes": plan.boot_volumes,
        "flavors": [o.flavor for o in options],
        "keypairs": KeyPair.objects.filter(user=ctx.user).only("name").order_by("name"),
        "server_groups": ServerGroup.objects.for_project(ctx.project_id).order_by("name"),
    }
    if request.method == "POST":
        form = LaunchForm(request.POST, request.FILES, **form_kwargs)
        if form.is_valid():
            response = _launch(request, form.cleaned_data, plan)
            if response is not None:
                return response
    else:
        initial = {
            "source_type": plan.source_type,
            "count": plan.count,
            "image": plan.image.pk if plan.image else "",
        }
        initial.update(
            {
                k: data[k]
                for k in ("name", "description", "availability_zone", "key_name", "server_group")
                if k in data
            }
        )
        form = LaunchForm(initial=initial, **form_kwargs)
        if plan.on_volume:
            form.fields["count"].widget.attrs["readonly"] = True
    count = plan.count
    context = {
        "form": form,
        "sources": plan.sources,
        "source_type": plan.source_type,
        "image": plan.image,
        "boot_volumes": plan.boot_volumes,
        "volume": plan.volume,
        "create_volume": plan.create_volume,
        "on_volume": plan.on_volume,
        "count_forced": plan.on_volume and plan.asked > 1,
        "min_size": plan.min_size,
        "volume_size": plan.volume_size,
        "delete_on_termination": data.get("delete_on_termination") == "yes",
        "options": options,
        "chosen": chosen,
        "count": count,
        "quota": [*lines.values(), *volume_lines.values()],
        "volume_quota": volume_lines,
        "volume_over_quota": plan.create_volume and any(line.over for line in volume_lines.values()),
        "over_quota": [line for line in lines.values() if line.over],
        "all_over_quota": bool(options)
        and all(launching.quota_reasons(lines, o.flavor, count) for o in options),
        "has_snapshots": bool(plan.snapshots),
        "hardware": plan.hardware(),
        "user_data_limit": settings.COMPUTE_USER_DATA_MAX_BYTES,
    }
    if chosen:
        context["use"] = {
            "vcpus": chosen.flavor.vcpus * count,
            "ram": chosen.flavor.ram * count,
            "disk": (chosen.root_gb + chosen.flavor.ephemeral) * count,
        }
    return render(request, "instances/servers/launch.html", context)


def _launch(request: HttpRequest, data: dict, plan: LaunchPlan) -> HttpResponse | None:
    """Launch through the compute service; its refusals (quota, image and flavor, volume,
    network) become messages on the form, and instances no host could take are reported by name."""
    ctx = request.ctx
    flavor = (
        Flavor.objects.launchable_by(ctx).filter(pk=data["flavor"]).prefetch_related("extra_specs").first()
    )
    boot_volume = plan.boot_volume(data)
    try:
        group = server_groups.group_for_launch(ctx, data["server_group"]) if data["server_group"] else None
        created = servers.launch(
            ctx,
            image=plan.image_by_id(data["image"]) if data["source_type"] != "volume" else None,
            flavor=flavor,
            name=data["name"],
            min_count=data["count"],
            max_count=data["count"],
            availability_zone=data["availability_zone"] or None,
            description=data["description"],
            boot_volume=boot_volume,
            key_name=data["key_name"],
            user_data=data["user_data"],
            config_drive=data["config_drive"],
            server_group=group,
            request_id=request.request_id,
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
