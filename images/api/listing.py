"""GET /v2/images: Glance's filters, sorting and marker/limit paging (keyset, constant queries)."""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import urlencode

from django.db.models import F, Q
from django.utils.dateparse import parse_datetime

from dashboard.exceptions import BadRequest
from images.choices import MemberStatus
from images.models import Image

SORT_KEYS = {
    "name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at",
    "visibility", "owner", "min_disk", "min_ram", "virtual_size",
}  # fmt: skip
IN_FILTERS = {"id", "name", "status", "disk_format", "container_format"}
PLAIN_FILTERS = {"name", "status", "visibility", "owner", "disk_format", "container_format", "id"}
DATE_OPS = {"gt": "gt", "gte": "gte", "eq": "exact", "lt": "lt", "lte": "lte"}
CONTROL = {"limit", "marker", "sort_key", "sort_dir", "sort", "member_status", "tag", "size_min", "size_max",
           "os_hidden", "protected", "created_at", "updated_at", "visibility"}  # fmt: skip
DEFAULT_LIMIT, MAX_LIMIT = 25, 1000


def _bool(name: str, value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name} must be true or false.")


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


def filtered(qs, params, ctx_is_admin: bool):
    for name, value in params.lists():
        if name in CONTROL or name in PLAIN_FILTERS:
            continue
        qs = qs.filter(**{f"properties__{name}": value[-1]})
    for name in PLAIN_FILTERS - {"visibility"}:
        if name not in params:
            continue
        value = params[name]
        if value.startswith("in:") and name in IN_FILTERS:
            values = [v.strip().strip('"') for v in value[3:].split(",") if v.strip()]
            if name == "id":
                values = [v for v in values if _is_uuid(v)]
            qs = qs.filter(**{f"{name}__in": values})
        elif name == "id" and not _is_uuid(value):
            qs = qs.none()
        else:
            qs = qs.filter(**{name: value})
    for tag in params.getlist("tag"):
        qs = qs.filter(tag_set__value=tag)
    if "size_min" in params:
        qs = qs.filter(size__gte=_int("size_min", params["size_min"]))
    if "size_max" in params:
        qs = qs.filter(size__lte=_int("size_max", params["size_max"]))
    if "protected" in params:
        qs = qs.filter(protected=_bool("protected", params["protected"]))
    # Hidden images are left out of lists unless asked for (Glance's os_hidden).
    qs = qs.filter(os_hidden=_bool("os_hidden", params.get("os_hidden", "false")))
    for field in ("created_at", "updated_at"):
        if field in params:
            op, _, when = params[field].partition(":")
            moment = parse_datetime(when) if op in DATE_OPS or op == "neq" else None
            if moment is None:
                raise BadRequest(f"{field} must be like gte:2024-01-01T00:00:00Z.")
            qs = (
                qs.exclude(**{field: moment})
                if op == "neq"
                else qs.filter(**{f"{field}__{DATE_OPS[op]}": moment})
            )
    return qs


def member_status(params) -> str:
    value = params.get("member_status", MemberStatus.ACCEPTED)
    if value not in (*MemberStatus.values, "all"):
        raise BadRequest("member_status must be pending, accepted, rejected or all.")
    return value


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


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


def parse_when(value) -> datetime | None:
    return parse_datetime(value) if value else None
