"""GET /v2/images' sorting and marker/limit paging (keyset, constant queries). Its filters are
images.filters.GlanceImageFilterSet."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import F, Q

from dashboard.exceptions import BadRequest
from images.models import Image

SORT_KEYS = {
    "name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at",
    "visibility", "owner", "min_disk", "min_ram", "virtual_size",
}  # fmt: skip
DEFAULT_LIMIT, MAX_LIMIT = 25, 1000


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an integer.") from exc


def sort_order(params) -> list[tuple[str, bool]]:
    """[(key, descending)], always ending with id as the tie breaker."""
    order: list[tuple[str, bool]] = []
    if "sort" in params:
        for part in params["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            order.append((key, (direction or "desc") == "desc"))
    else:
        keys = params.getlist("sort_key") or ["created_at"]
        dirs = params.getlist("sort_dir") or ["desc"]
        for i, key in enumerate(keys):
            direction = dirs[i] if i < len(dirs) else dirs[-1]
            if direction not in ("asc", "desc"):
                raise BadRequest(f"Invalid sort direction {direction!r}.")
            order.append((key, direction == "desc"))
    for key, _ in order:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid sort key {key!r}.")
    if all(k != "id" for k, _ in order):
        order.append(("id", order[-1][1] if order else True))
    return order


def _value(image: Image, key: str):
    return getattr(image, key)


def after_marker(qs, order, marker: Image):
    """Rows strictly after ``marker`` in ``order`` (nulls sort as smallest: first asc, last desc)."""
    condition = Q(pk__isnull=True)  # nothing
    equal = Q()
    for key, desc in order:
        value = _value(marker, key)
        if value is None:
            later = Q(pk__isnull=True) if desc else Q(**{f"{key}__isnull": False})
            same = Q(**{f"{key}__isnull": True})
        else:
            later = Q(**{f"{key}__lt" if desc else f"{key}__gt": value})
            if desc:
                later |= Q(**{f"{key}__isnull": True})
            same = Q(**{key: value})
        condition |= equal & later
        equal &= same
    return qs.filter(condition)


def order_by(order):
    return [F(key).desc(nulls_last=True) if desc else F(key).asc(nulls_first=True) for key, desc in order]


def limit_of(params) -> int:
    limit = _int("limit", params.get("limit", str(DEFAULT_LIMIT)))
    if limit < 0:
        raise BadRequest("limit must be zero or more.")
    return min(limit, MAX_LIMIT)


def next_link(params, last_id: str, limit: int) -> str:
    query = [(k, v) for k, vs in params.lists() for v in vs if k not in ("marker", "limit")]
    query += [("marker", last_id), ("limit", str(limit))]
    return f"/v2/images?{urlencode(query)}"
