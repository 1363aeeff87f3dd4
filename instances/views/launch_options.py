"""What the Launch Instance page shows before anything is submitted: the sources a project can
boot, each flavor with the reasons it cannot work, and the quota the launch would use.

These are explanations only: :func:`instances.services.servers.launch` runs the real checks
(image and flavor, quota under the project lock, the scheduler's claim) and refuses on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dashboard.policy import can
from flavors.models import Flavor
from images.choices import ImageStatus
from images.models import Image
from instances import policies
from instances.choices import VolumeStatus
from instances.models import ComputeHost, Volume
from instances.services import hardware, quotas, volume_quotas
from instances.services.servers import SUPPORTED_DISK_FORMATS, GiB


def launchable_images(ctx) -> tuple[list, list]:
    """(images, instance snapshots) the project may boot: active, in a format the hosts run."""

    qs = (
        Image.objects.visible_to(ctx)
        .filter(status=ImageStatus.ACTIVE, disk_format__in=SUPPORTED_DISK_FORMATS)
        .exclude(os_hash_value__isnull=True)
        .order_by("name", "pk")
    )
    images, snapshots = [], []
    for image in qs:
        kind = (image.properties or {}).get("image_type")
        (snapshots if kind == "snapshot" else images).append(image)
    return images, snapshots


def launchable_volumes(ctx) -> list[Volume]:
    """The project's volumes an instance can boot from: bootable and available."""
    return list(
        Volume.objects.for_project(ctx.project_id)
        .filter(status=VolumeStatus.AVAILABLE, bootable=True)
        .order_by("name", "pk")
    )


def min_volume_gb(image) -> int:
    """The smallest volume the image fits in (what ``volumes.check_size`` accepts): at least the
    image's virtual size rounded up to whole GB, and its min disk."""
    virtual = image.virtual_size or image.size or 0
    return max(1, math.ceil(virtual / GiB), image.min_disk)


def root_gb_for(image, flavor: Flavor) -> int:
    """The root disk the launch gets (the image's size for a zero-disk flavor, as launch() does)."""
    if flavor.disk:
        return flavor.disk
    virtual = (image.virtual_size or image.size or 0) if image is not None else 0
    return max(1, math.ceil(virtual / GiB), image.min_disk if image is not None else 0)


@dataclass
class QuotaLine:
    key: str
    label: str
    unit: str
    limit: int  # -1: unlimited
    used: int
    need: int = 0

    @property
    def unlimited(self) -> bool:
        return self.limit < 0

    @property
    def remaining(self) -> int | None:
        return None if self.unlimited else max(0, self.limit - self.used)

    @property
    def over(self) -> bool:
        return not self.unlimited and self.used + self.need > self.limit

    def _pct(self, value: int) -> int:
        if self.unlimited or self.limit == 0:
            return 100 if value and not self.unlimited else 0
        return min(100, round(100 * value / self.limit))

    @property
    def used_pct(self) -> int:
        return self._pct(self.used)

    @property
    def need_pct(self) -> int:
        return max(0, min(100 - self.used_pct, self._pct(self.used + self.need) - self.used_pct))


def quota_lines(project_id: str) -> dict[str, QuotaLine]:
    limits, used = quotas.limits_for(project_id), quotas.usage_of(project_id)
    return {
        "instances": QuotaLine("instances", "Instances", "", limits["instances"], used.instances),
        "cores": QuotaLine("cores", "vCPUs", "", limits["cores"], used.cores),
        "ram": QuotaLine("ram", "RAM", "MB", limits["ram"], used.ram),
    }


@dataclass(frozen=True)
class HostRoom:
    vcpus: float
    memory_mb: float
    disk_gb: float

    def fits(self, vcpus: int, memory_mb: int, disk_gb: int) -> bool:
        return vcpus <= self.vcpus and memory_mb <= self.memory_mb and disk_gb <= self.disk_gb


def host_room(exclude_host_id: int | None = None) -> list[HostRoom]:
    """What each enabled, live host can still take (capacity × allocation ratio − claims)."""
    return [
        HostRoom(
            h.vcpus * h.cpu_allocation_ratio - h.vcpus_used,
            h.memory_mb * h.ram_allocation_ratio - h.memory_mb_used,
            h.local_gb * h.disk_allocation_ratio - h.local_gb_used,
        )
        for h in ComputeHost.objects.schedulable().exclude(pk=exclude_host_id)
    ]


@dataclass
class FlavorOption:
    flavor: Flavor
    root_gb: int
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


def image_reasons(image, flavor: Flavor, ctx, on_volume: bool = False) -> list[str]:
    """Why the image cannot boot on the flavor. ``on_volume``: the root disk is a volume, so the
    flavor's root disk is not used (a zero-disk or small-disk flavor is fine); RAM still counts."""
    if image is None:
        return []
    reasons = []
    conflict = hardware.flavor_conflict(image.properties or {}, flavor.spec_dict())
    if conflict:
        reasons.append(conflict)
    if on_volume:
        if image.min_ram > flavor.ram:
            reasons.append(
                f"The image needs at least {image.min_ram} MB of RAM; this flavor has {flavor.ram} MB."
            )
        return reasons
    virtual = image.virtual_size or image.size or 0
    if flavor.disk == 0:
        if not can(ctx, policies.SERVERS_ZERO_DISK_FLAVOR, {"project_id": ctx.project_id}):
            reasons.append("A flavor without a root disk can boot only from a volume.")
    else:
        if virtual > flavor.disk * GiB:
            reasons.append(
                f"Root disk {flavor.disk} GB is smaller than the image "
                f"({math.ceil(virtual / GiB)} GB virtual size)."
            )
        if image.min_disk > flavor.disk:
            reasons.append(f"The image needs at least {image.min_disk} GB of root disk.")
    if image.min_ram > flavor.ram:
        reasons.append(
            f"The image needs at least {image.min_ram} MB of RAM; this flavor has {flavor.ram} MB."
        )
    return reasons


def quota_reasons(lines: dict[str, QuotaLine], flavor: Flavor, count: int) -> list[str]:
    need = {"instances": count, "cores": flavor.vcpus * count, "ram": flavor.ram * count}
    out = []
    for key, line in lines.items():
        if not line.unlimited and line.used + need[key] > line.limit:
            unit = f" {line.unit}" if line.unit else ""
            out.append(
                f"Over your quota of {line.label}: needs {need[key]}{unit}, {line.remaining}{unit} left."
            )
    return out


def flavor_options(
    ctx, image, count: int, lines: dict[str, QuotaLine], on_volume: bool = False
) -> list[FlavorOption]:
    """Every flavor the project may use with the reasons it cannot work. ``on_volume``: the
    root disk is a volume, which claims no local disk on the host (as ``BootVolume.check``)."""
    rooms = host_room()
    options = []
    flavors = Flavor.objects.launchable_by(ctx).prefetch_related("extra_specs")
    for flavor in flavors.order_by("ram", "vcpus", "name"):
        root = 0 if on_volume else root_gb_for(image, flavor)
        option = FlavorOption(flavor, root, image_reasons(image, flavor, ctx, on_volume))
        option.reasons += quota_reasons(lines, flavor, count)
        if not any(r.fits(flavor.vcpus, flavor.ram, root + flavor.ephemeral) for r in rooms):
            option.reasons.append(
                "Larger than any enabled compute host can take now."
                if rooms
                else "No enabled compute host is up."
            )
        options.append(option)
    return options


def with_launch(lines: dict[str, QuotaLine], flavor: Flavor | None, count: int) -> dict[str, QuotaLine]:
    """The quota lines with what this launch would add."""
    lines["instances"].need = count
    if flavor is not None:
        lines["cores"].need = flavor.vcpus * count
        lines["ram"].need = flavor.ram * count
    return lines


def volume_quota_lines(project_id: str, new_gb: int | None) -> dict[str, QuotaLine]:
    """The volume quotas, with what a new boot volume of ``new_gb`` would add (None: no new one)."""
    limits, used = volume_quotas.quota_limits(project_id), volume_quotas.quota_usage(project_id)
    lines = {
        "volumes": QuotaLine("volumes", "Volumes", "", limits["volumes"], used["volumes"]),
        "gigabytes": QuotaLine("gigabytes", "Volume Storage", "GB", limits["gigabytes"], used["gigabytes"]),
    }
    if new_gb is not None:
        lines["volumes"].need, lines["gigabytes"].need = 1, new_gb
    return lines


def resize_options(ctx, instance, allow_same_host: bool) -> list[FlavorOption]:
    """Every flavor the project may use, with the reasons the instance cannot be resized to it (the
    checks of services.resize.begin_resize, explained): its own flavor, disks that would shrink,
    the cores and RAM the resize adds over the quota, no other host with room."""
    lines = quota_lines(instance.project_id)
    rooms = host_room(None if allow_same_host else instance.host_id)
    options = []
    for flavor in Flavor.objects.launchable_by(ctx).order_by("ram", "vcpus", "name"):
        option = FlavorOption(flavor, flavor.disk)
        if flavor.pk == instance.flavor_ref:
            option.reasons.append("This is the instance's flavor now.")
        if flavor.disk == 0:
            option.reasons.append("A flavor without a root disk cannot be resized to.")
        elif flavor.disk < instance.root_gb or flavor.ephemeral < instance.ephemeral_gb:
            option.reasons.append(
                f"Disks never shrink: the instance has {instance.root_gb} GB root and "
                f"{instance.ephemeral_gb} GB ephemeral disk."
            )
        min_ram = int((instance.image_properties or {}).get("min_ram") or 0)
        if min_ram > flavor.ram:
            option.reasons.append(f"The image needs at least {min_ram} MB of RAM.")
        for key, more in (("cores", flavor.vcpus - instance.vcpus), ("ram", flavor.ram - instance.memory_mb)):
            line = lines[key]
            if more > 0 and not line.unlimited and line.used + more > line.limit:
                unit = f" {line.unit}" if line.unit else ""
                option.reasons.append(
                    f"Over your quota of {line.label}: needs {more}{unit} more, {line.remaining}{unit} left."
                )
        if not any(r.fits(flavor.vcpus, flavor.ram, flavor.disk + flavor.ephemeral) for r in rooms):
            option.reasons.append(
                "Larger than any other enabled compute host can take now."
                if rooms
                else "No other enabled compute host is up (resizing on the same host is not allowed)."
                if not allow_same_host
                else "No enabled compute host is up."
            )
        options.append(option)
    return options
