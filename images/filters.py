"""The Images panel's list: scopes, filters and sorting read from the URL, and one page of rows.

Everything is decided from the query string so a filtered, sorted page can be shared as a link.
A page costs a fixed number of queries however many images there are: a count, the page, and
one query each for the members and owner projects of the rows on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from dashboard.models import Project
from images.choices import DiskFormat, ImageStatus, MemberStatus, Visibility
from images.models import Image, ImageMember

SCOPES = {
    "project": "Project",
    "shared": "Shared with me",
    "public": "Public",
    "community": "Community",
}
SORTS = {
    "name": "name",
    "status": "status",
    "visibility": "visibility",
    "format": "disk_format",
    "size": "size",
    "created": "created_at",
    "owner": "owner",
}
PAGE_SIZES = (25, 50, 100)
QUEUED_WATCH = timedelta(minutes=30)
TRANSITIONAL = (
    ImageStatus.QUEUED,
    ImageStatus.SAVING,
    ImageStatus.UPLOADING,
    ImageStatus.IMPORTING,
    ImageStatus.PENDING_DELETE,
)
STATUS_STYLE = {
    ImageStatus.ACTIVE: "success",
    ImageStatus.KILLED: "danger",
    ImageStatus.DEACTIVATED: "secondary",
    ImageStatus.QUEUED: "warning",
}


@dataclass
class ImageFilter:
    """The panel's state, parsed from a QueryDict; unknown or bad values fall back to defaults."""

    scope: str = "project"
    name: str = ""
    status: str = ""
    visibility: str = ""
    disk_format: str = ""
    protected: str = ""
    kind: str = ""
    owner: str = ""
    sort: str = "created"
    descending: bool = True
    per_page: int = PAGE_SIZES[0]
    page: int = 1
    admin: bool = False
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, params, *, admin: bool = False) -> ImageFilter:
        f = cls(admin=admin)
        f.scope = params.get("scope", "all" if admin else "project")
        if f.scope not in SCOPES and not (admin and f.scope == "all"):
            f.scope = "all" if admin else "project"
        f.name = params.get("name", "").strip()[:255]
        f.status = _choice(params.get("status", ""), ImageStatus.values)
        f.visibility = _choice(params.get("visibility", ""), Visibility.values)
        f.disk_format = _choice(params.get("disk_format", ""), DiskFormat.values)
        f.protected = _choice(params.get("protected", ""), ("yes", "no"))
        f.kind = _choice(params.get("type", ""), ("image", "snapshot"))
        f.owner = params.get("owner", "").strip()[:64] if admin else ""
        sort = params.get("sort", "-created")
        f.descending = sort.startswith("-")
        f.sort = sort.lstrip("-") if sort.lstrip("-") in SORTS else "created"
        f.per_page = _int(params.get("per_page"), PAGE_SIZES[0])
        if f.per_page not in PAGE_SIZES:
            f.per_page = PAGE_SIZES[0]
        f.page = max(_int(params.get("page"), 1), 1)
        return f

    # --- the query -------------------------------------------------------------------------------

    def queryset(self, ctx) -> QuerySet[Image]:
        qs = Image.objects.alive()
        membership = ImageMember.objects.filter(image=OuterRef("pk"), member=ctx.project_id)
        if self.scope == "project":
            qs = qs.filter(owner=ctx.project_id)
        elif self.scope == "shared":
            qs = qs.filter(Exists(membership), visibility=Visibility.SHARED).exclude(owner=ctx.project_id)
        elif self.scope in ("public", "community"):
            qs = qs.filter(visibility=self.scope)
        qs = qs.annotate(my_member_status=Subquery(membership.values("status")[:1]))
        if self.name:
            qs = qs.filter(Q(name__icontains=self.name) | Q(id__istartswith=self.name))
        if self.status:
            qs = qs.filter(status=self.status)
        if self.visibility:
            qs = qs.filter(visibility=self.visibility)
        if self.disk_format:
            qs = qs.filter(disk_format=self.disk_format)
        if self.protected:
            qs = qs.filter(protected=self.protected == "yes")
        if self.kind == "snapshot":
            qs = qs.filter(properties__image_type="snapshot")
        elif self.kind == "image":
            qs = qs.exclude(properties__image_type="snapshot")
        if self.owner:
            qs = qs.filter(
                Q(owner=self.owner) | Q(owner__in=Project.objects.filter(name=self.owner).values("id"))
            )
        key = SORTS[self.sort]
        order = [f"-{key}" if self.descending else key]
        if key != "created_at":
            order.append("-created_at")
        return qs.order_by(*order, "-id")

    def paginate(self, ctx) -> Page:
        paginator = Paginator(self.queryset(ctx), self.per_page)
        page = paginator.get_page(self.page)
        decorate(page.object_list, ctx)
        return page

    # --- links -----------------------------------------------------------------------------------

    def params(self, **changes) -> dict[str, str]:
        values = {
            "scope": self.scope,
            "name": self.name,
            "status": self.status,
            "visibility": self.visibility,
            "disk_format": self.disk_format,
            "protected": self.protected,
            "type": self.kind,
            "owner": self.owner,
            "sort": f"-{self.sort}" if self.descending else self.sort,
            "per_page": str(self.per_page),
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        defaults = {"sort": "-created", "per_page": str(PAGE_SIZES[0]), "page": "1"}
        return {k: v for k, v in values.items() if v and defaults.get(k) != v}

    def query(self, **changes) -> str:
        return urlencode(self.params(**changes))

    def sort_query(self, column: str) -> str:
        """The link of a column header: sort by it, or flip the direction if it is the current one."""
        descending = not self.descending if column == self.sort else column in ("created", "size")
        return self.query(sort=f"-{column}" if descending else column, page=1)

    @property
    def sort_links(self) -> dict[str, str]:
        return {column: self.sort_query(column) for column in SORTS}

    @property
    def scope_links(self) -> dict[str, str]:
        return {scope: urlencode({"scope": scope}) for scope in SCOPES}

    def page_query(self, number: int) -> str:
        return self.query(page=number)

    @property
    def is_filtered(self) -> bool:
        return any(
            (self.name, self.status, self.visibility, self.disk_format, self.protected, self.kind, self.owner)
        )


def decorate(images, ctx) -> None:
    """Attach what rows show and the policy checks need, with one query per kind for the whole page."""
    from images.policies import target

    images = list(images)
    ids = [i.pk for i in images]
    members: dict = {}
    for m in ImageMember.objects.filter(image_id__in=ids):
        members.setdefault(m.image_id, []).append(m)
    owners = {i.owner for i in images if i.owner}
    names = dict(Project.objects.filter(id__in=owners).values_list("id", "name"))
    for image in images:
        # Fill Django's prefetch cache so policies.target() reads members without a query per row.
        image._prefetched_objects_cache = {"members": _Prefetched(members.get(image.pk, []))}
        image.owner_name = names.get(image.owner, image.owner or "")
        image.kind = "snapshot" if image.properties.get("image_type") == "snapshot" else "image"
        image.server_uuid = image.properties.get("instance_uuid", "") if image.kind == "snapshot" else ""
        image.status_style = STATUS_STYLE.get(image.status, "info")
        image.transitional = is_transitional(image)
        image.row_actions = actions_for(ctx, image, target(ctx, image))


class _Prefetched(list):
    """Looks enough like a prefetched related manager result for ``image.members.all()``."""

    def all(self):
        return self


def actions_for(ctx, image: Image, policy_target: dict) -> dict[str, bool]:
    """Which actions this user may take on this image: the same rules the API enforces."""
    from dashboard.policy import can

    own = ctx.is_admin or image.owner == ctx.project_id
    status = image.status
    return {
        "edit": own and can(ctx, "modify_image", policy_target),
        "metadata": own and can(ctx, "modify_image", policy_target),
        "delete": own and can(ctx, "delete_image", policy_target),
        "upload": own and status == ImageStatus.QUEUED and can(ctx, "upload_image", policy_target),
        "deactivate": status == ImageStatus.ACTIVE and can(ctx, "deactivate", policy_target),
        "reactivate": status == ImageStatus.DEACTIVATED and can(ctx, "reactivate", policy_target),
        "members": own and image.visibility == Visibility.SHARED and can(ctx, "add_member", policy_target),
        # Launching is the compute service's decision: an active image and the right to create servers.
        "launch": status == ImageStatus.ACTIVE
        and can(ctx, "os_compute_api:servers:create", {"project_id": ctx.project_id}),
        "respond": (
            not own
            and image.visibility == Visibility.SHARED
            and getattr(image, "my_member_status", None) is not None
            and can(ctx, "modify_member", {**policy_target, "member_id": ctx.project_id})
        ),
    }


def next_delay(current: float | None) -> int:
    """Polling back-off for rows in a transitional state: 2 s, then ×1.5, capped at 30 s."""
    if not current:
        return 2
    return int(min(max(current * 1.5, 2), 30))


def is_transitional(image: Image) -> bool:
    """Rows that will change on their own soon. A queued record is worth watching only while an
    upload into it is likely (just created or just failed is settled: it waits for the user)."""
    if image.status != ImageStatus.QUEUED:
        return image.status in TRANSITIONAL
    return not image.reason and timezone.now() - image.updated_at < QUEUED_WATCH


def member_status_label(value: str | None) -> str:
    return MemberStatus(value).label if value in MemberStatus.values else ""


def _choice(value: str, allowed) -> str:
    return value if value in allowed else ""


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
