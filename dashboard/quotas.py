"""Per-project quotas, in one place for every app: the resources the apps register (with what they
count), the limits (a project's own, else the default an administrator set, else the setting), and
the one rule for changing a project's limit, used by the compute and volume quota APIs and the
Modify Quotas form alike: a limit is never set below what the project already uses.

Enforcement stays with the app that owns the resource (a launch, an upload, a new volume), under
the project's row lock; the apps read their limits from here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from dashboard.exceptions import BadRequest
from dashboard.models import Project, QuotaLimit

UNLIMITED = -1
GIB = 1024**3
# The largest limit a project can be given: what the database's 64-bit column holds (image storage,
# kept in bytes, reaches it first). The forms show it in each resource's unit (see ``maximum``).
MAX_LIMIT = 2**63 - 1


@dataclass(frozen=True)
class Resource:
    name: str  # the API's key: "instances", "ram", "gigabytes" …
    label: str  # "Instances", "RAM (MiB)" …
    group: str  # "Compute", "Image", "Volume": how the forms group them
    default: Callable[[], int]  # the setting's value, read on every call (tests change settings)
    # What the project uses now; None when the resource is not counted per project (key pairs are
    # counted per user, server group members per group), so no usage rule applies to it.
    usage: Callable[[str], int] | None
    order: int
    # The forms show the limit divided by this (image storage is kept in bytes, shown in GiB).
    scale: int = 1
    # False: an API names it but Stratus has nothing it limits (Cinder's snapshots, backups and
    # groups): kept as an admin sets it through the API, left out of the forms.
    shown: bool = True


_resources: dict[str, Resource] = {}


def register(resource: Resource) -> None:
    _resources[resource.name] = resource


def resources(names: Iterable[str] | None = None) -> list[Resource]:
    chosen = _resources.values() if names is None else (_resources[n] for n in names if n in _resources)
    return sorted(chosen, key=lambda r: r.order)


class QuotaBelowUsage(BadRequest):
    """Nova and Cinder answer 400 when a limit would fall below the usage."""

    def __init__(self, below: list[tuple[Resource, int, int]]):
        self.below = below  # (resource, requested limit, in use)
        super().__init__(
            " ".join(
                f"Quota limit {limit} for {r.name} must be greater than or equal to already used "
                f"and reserved {used}."
                for r, limit, used in below
            )
        )


def _overrides(project_id: str | None) -> tuple[dict[str, int], dict[str, int]]:
    """The defaults an administrator set and the project's own limits, in one query."""
    defaults: dict[str, int] = {}
    own: dict[str, int] = {}
    rows = QuotaLimit.objects.filter(Q(project__isnull=True) | Q(project_id=project_id)).values_list(
        "project_id", "resource", "limit"
    )
    for row_project, name, limit in rows:
        (own if row_project is not None else defaults)[name] = limit
    return defaults, own


def defaults() -> dict[str, int]:
    """The limit of every resource for a project that has none of its own."""
    chosen, _ = _overrides(None)
    return {r.name: chosen.get(r.name, r.default()) for r in resources()}


def limits(project_id: str | None) -> dict[str, int]:
    chosen, own = _overrides(project_id)
    return {r.name: own.get(r.name, chosen.get(r.name, r.default())) for r in resources()}


def usage(project_id: str, names: Iterable[str] | None = None) -> dict[str, int]:
    """What the project uses of each counted resource (resources counted otherwise are left out)."""
    return {r.name: r.usage(project_id) for r in resources(names) if r.usage is not None}


def maximum(resource: Resource) -> int:
    """The largest limit of ``resource`` in the unit the forms show it in."""
    return MAX_LIMIT // resource.scale


def _checked(values: dict[str, object]) -> dict[str, int]:
    """The one rule every limit passes, from the forms and the APIs: a whole number from -1
    (unlimited) to MAX_LIMIT; anything else is a 400 that names the bounds."""
    out = {}
    for name, value in values.items():
        if name not in _resources:
            raise BadRequest(f"Unknown quota resource {name!r}.")
        if isinstance(value, bool) or not isinstance(value, int) or value < UNLIMITED:
            raise BadRequest(f"Quota limit {value} for {name} must be -1 or greater.")
        if value > MAX_LIMIT:
            raise BadRequest(f"Quota limit {value} for {name} must be at most {MAX_LIMIT}.")
        out[name] = value
    return out


def set_limits(project: Project, values: dict[str, int], *, force: bool = False) -> dict[str, int]:
    """Set some of the project's limits. Refused, with what is in use, when a limit (other than
    unlimited) falls below the project's usage, unless ``force`` (Nova's ``force`` flag)."""
    values = _checked(values)
    with transaction.atomic():
        # Under the lock launches and uploads take: nothing is added between count and write.
        Project.objects.lock(project.pk)
        if not force:
            used = usage(project.pk, [n for n, v in values.items() if v != UNLIMITED])
            below = [
                (_resources[name], values[name], in_use)
                for name, in_use in used.items()
                if values[name] < in_use
            ]
            if below:
                raise QuotaBelowUsage(sorted(below, key=lambda item: item[0].order))
        for name, value in values.items():
            QuotaLimit.objects.update_or_create(project=project, resource=name, defaults={"limit": value})
    return limits(project.pk)


def set_defaults(values: dict[str, int]) -> dict[str, int]:
    """Change the defaults; projects with limits of their own keep them."""
    values = _checked(values)
    with transaction.atomic():
        for name, value in values.items():
            QuotaLimit.objects.update_or_create(project=None, resource=name, defaults={"limit": value})
    return defaults()


def reset_limits(project_id: str, names: Iterable[str]) -> None:
    """The project's own limits of ``names`` go; the defaults hold for it again (Nova's and
    Cinder's DELETE of a quota set)."""
    QuotaLimit.objects.filter(project_id=project_id, resource__in=list(names)).delete()
