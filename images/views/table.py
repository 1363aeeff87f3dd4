"""The Images panel's table: scope tabs, the filters of images.filters, sorting, paging, and links.

Everything is decided from the query string so a filtered, sorted page can be shared as a link;
unknown or bad values fall back to the defaults. A page costs a fixed number of queries however
many images there are: a count, the page, and one query each for the members and owner projects
of the rows on it. (The caller's own membership comes from those members, not from a subquery in
the page's query: that would run for every matching row before the sort.)"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, QuerySet

from dashboard import preferences
from images.choices import Visibility
from images.filters import ImageFilterSet
from images.models import Image, ImageMember
from images.views.rows import decorate

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
PAGE_SIZES = preferences.PAGE_SIZES
DEFAULT_PER_PAGE = 25


class ImageTable:
    """The panel's state, parsed from a QueryDict."""

    def __init__(self, params, *, admin: bool = False, per_page: int = DEFAULT_PER_PAGE) -> None:
        self.admin = admin
        self.default_per_page = per_page
        self.scope = params.get("scope", "all" if admin else "project")
        if self.scope not in SCOPES and not (admin and self.scope == "all"):
            self.scope = "all" if admin else "project"
        self.filters = ImageFilterSet(params, owner_filter=admin)
        self.filters.is_valid()  # a bad value is left out of the cleaned data, so it filters nothing
        values = self.filters.form.cleaned_data
        self.name = values.get("name") or ""
        self.status = values.get("status") or ""
        self.visibility = values.get("visibility") or ""
        self.disk_format = values.get("disk_format") or ""
        self.protected = {True: "yes", False: "no"}.get(values.get("protected"), "")
        self.kind = values.get("type") or ""
        self.owner = values.get("owner") or ""
        sort = params.get("sort", "-created")
        self.descending = sort.startswith("-")
        self.sort = sort.lstrip("-") if sort.lstrip("-") in SORTS else "created"
        self.per_page = _int(params.get("per_page"), per_page)
        if self.per_page not in PAGE_SIZES:
            self.per_page = per_page
        self.page = max(_int(params.get("page"), 1), 1)

    @classmethod
    def from_query(cls, params, *, admin: bool = False, per_page: int = DEFAULT_PER_PAGE) -> ImageTable:
        return cls(params, admin=admin, per_page=per_page)

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
        qs = self.filters.filter_queryset(qs)
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
        defaults = {"sort": "-created", "per_page": str(self.default_per_page), "page": "1"}
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


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
