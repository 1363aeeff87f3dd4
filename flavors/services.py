"""Every change to flavors, written once and called from the API and the dashboard alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from dashboard.exceptions import BadRequest, Conflict, NotFound
from dashboard.models import Project
from flavors.models import Flavor, FlavorAccess, FlavorExtraSpec


class FlavorExists(Conflict):
    """A flavor with this name or id exists already (Nova: 409)."""


def _bad_request(exc: ValidationError) -> BadRequest:
    if hasattr(exc, "error_dict"):
        parts = [
            f"Invalid input for field/attribute {field}. {' '.join(msgs)}"
            for field, msgs in exc.message_dict.items()
        ]
        return BadRequest(" ".join(parts))
    return BadRequest(" ".join(exc.messages))


def _check_duplicates(flavor_id: str, name: str) -> None:
    if Flavor.objects.filter(pk=flavor_id).exists():
        raise FlavorExists(f"Flavor with ID {flavor_id} already exists.")
    if Flavor.objects.filter(name__iexact=name).exists():
        raise FlavorExists(f"Flavor with name {name} already exists.")


def create_flavor(
    *,
    name: str,
    vcpus: int,
    ram: int,
    disk: int,
    ephemeral: int = 0,
    swap: int = 0,
    rxtx_factor: float = 1.0,
    is_public: bool = True,
    flavor_id: str | None = None,
    description: str = "",
    projects: Iterable[Project] = (),
) -> Flavor:
    """Create a flavor; with ``projects`` it is private to them (none given: as ``is_public``).

    Raises :class:`FlavorExists` for a taken name (case-insensitively) or id, and BadRequest
    naming the field for any other invalid value. Nothing is created on failure."""
    projects = list(projects)
    flavor = Flavor(
        id=flavor_id or Flavor.generate_id(),
        name=name,
        vcpus=vcpus,
        ram=ram,
        disk=disk,
        ephemeral=ephemeral,
        swap=swap,
        rxtx_factor=rxtx_factor,
        is_public=is_public and not projects,
        description=description or "",
    )
    try:
        flavor.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise _bad_request(exc) from exc
    try:
        with transaction.atomic():
            _check_duplicates(flavor.id, flavor.name)
            flavor.save(force_insert=True)
            FlavorAccess.objects.bulk_create(FlavorAccess(flavor=flavor, project=p) for p in projects)
    except IntegrityError as exc:
        # Lost a race with a concurrent create of the same name or id.
        raise FlavorExists(f"Flavor with name {name} or ID {flavor.id} already exists.") from exc
    return flavor


def update_description(flavor: Flavor, description: str | None) -> Flavor:
    flavor.description = description or ""
    flavor.save(update_fields=["description", "updated_at"])
    return flavor


def delete_flavors(flavors: Iterable[Flavor]) -> int:
    """Delete flavors. Instances keep their own copy of the sizes and are not touched."""
    ids = [f.pk for f in flavors]
    deleted, _ = Flavor.objects.filter(pk__in=ids).delete()
    return len(ids) if deleted else 0


def access_list(flavor: Flavor) -> list[FlavorAccess]:
    if flavor.is_public:
        raise NotFound("Access list not available for public flavors.")
    return list(flavor.access.all())


def add_access(flavor: Flavor, project_id: str) -> list[FlavorAccess]:
    if flavor.is_public:
        raise Conflict("Can not add access to a public flavor.")
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise BadRequest(
            f"Invalid input for field/attribute tenant. Project ID {project_id} is not a valid project."
        )
    try:
        with transaction.atomic():
            FlavorAccess.objects.create(flavor=flavor, project=project)
    except IntegrityError as exc:
        raise Conflict(
            f"Flavor access already exists for flavor {flavor.id} and project {project_id} combination."
        ) from exc
    return list(flavor.access.all())


def remove_access(flavor: Flavor, project_id: str) -> list[FlavorAccess]:
    deleted, _ = FlavorAccess.objects.filter(flavor=flavor, project_id=project_id).delete()
    if not deleted:
        raise NotFound(f"Flavor access not found for {flavor.id} / {project_id} combination.")
    return list(flavor.access.all())


@transaction.atomic
def set_access(flavor: Flavor, projects: Iterable[Project]) -> None:
    """Make the access list of a private flavor exactly ``projects`` (the dashboard's Modify Access)."""
    if flavor.is_public:
        raise Conflict("Can not add access to a public flavor.")
    wanted = {p.pk for p in projects}
    FlavorAccess.objects.filter(flavor=flavor).exclude(project_id__in=wanted).delete()
    have = set(FlavorAccess.objects.filter(flavor=flavor).values_list("project_id", flat=True))
    FlavorAccess.objects.bulk_create(FlavorAccess(flavor=flavor, project_id=pid) for pid in wanted - have)


@transaction.atomic
def set_extra_specs(flavor: Flavor, specs: Mapping[str, str]) -> dict[str, str]:
    """Create or update the given keys; other keys stay."""
    existing = {s.key: s for s in FlavorExtraSpec.objects.filter(flavor=flavor, key__in=list(specs))}
    changed = []
    for key, value in specs.items():
        spec = existing.get(key)
        if spec is None:
            FlavorExtraSpec.objects.create(flavor=flavor, key=key, value=value)
        elif spec.value != value:
            spec.value = value
            changed.append(spec)
    FlavorExtraSpec.objects.bulk_update(changed, ["value"])
    return dict(specs)


@transaction.atomic
def replace_extra_specs(flavor: Flavor, specs: Mapping[str, str]) -> None:
    """Make the extra specs exactly ``specs`` (the dashboard's Update Metadata)."""
    FlavorExtraSpec.objects.filter(flavor=flavor).exclude(key__in=list(specs)).delete()
    set_extra_specs(flavor, specs)


def delete_extra_spec(flavor: Flavor, key: str) -> None:
    deleted, _ = FlavorExtraSpec.objects.filter(flavor=flavor, key=key).delete()
    if not deleted:
        raise NotFound(f"Flavor {flavor.id} has no extra specs with key {key}.")
