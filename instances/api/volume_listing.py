"""``GET /volumes`` and ``/volumes/detail``: Cinder's filters, sort orders and marker pages.

Sort: ``sort=key[:dir][,key[:dir]...]`` or the older ``sort_key``/``sort_dir`` (not both), by
default newest first; the id always breaks ties, so a page boundary (``marker``, the last id of
the page before) is one keyset comparison and no volume is listed twice or skipped."""

from __future__ import annotations

import ast
import json
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform

from dashboard.api.urls import base_url
from dashboard.exceptions import BadRequest, NotFound
from instances.models import Volume

_FALSE = ("false", "0", "no", "off", "f", "n", "")
# API sort key → column
SORT_KEYS = {
    "id": "id",
    "name": "name",
    "display_name": "name",
    "status": "status",
    "size": "size",
    "availability_zone": "availability_zone",
    "bootable": "bootable",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
DEFAULT_SORT = [("created_at", "desc")]


def parse_sort(params) -> list[tuple[str, str]]:
    """[(column, "asc"|"desc")], the id appended as the last tie breaker."""
    if "sort" in params and ("sort_key" in params or "sort_dir" in params):
        raise BadRequest("Invalid input received: sort cannot be used with sort_key or sort_dir.")
    pairs: list[tuple[str, str]] = []
    if "sort" in params:
        for item in params["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key.strip(), direction.strip().lower() or "desc"))
    elif "sort_key" in params or "sort_dir" in params:
        keys = [k.strip() for k in params.get("sort_key", "created_at").split(",")]
        directions = [d.strip().lower() for d in params.get("sort_dir", "desc").split(",")]
        pairs = [(key, directions[min(i, len(directions) - 1)]) for i, key in enumerate(keys)]
    else:
        pairs = list(DEFAULT_SORT)
    out = []
    for key, direction in pairs:
        if key not in SORT_KEYS:
            raise BadRequest(f"Invalid input received: invalid sort key {key!r}.")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid input received: invalid sort direction {direction!r}.")
        column = SORT_KEYS[key]
        if column not in (c for c, _ in out):
            out.append((column, direction))
    if "id" not in (c for c, _ in out):
        out.append(("id", out[-1][1] if out else "desc"))
    return out


def _metadata_filter(raw: str) -> dict[str, str]:
    """``metadata`` as a JSON object or a Python dict literal (what clients send for it)."""
    try:
        value = json.loads(raw)
    except ValueError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError) as exc:
            raise BadRequest(f"Invalid input received: metadata filter {raw!r} is not an object.") from exc
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid input received: metadata filter {raw!r} is not an object.")
    return {str(k): str(v) for k, v in value.items()}


def filtered(qs: QuerySet, params) -> QuerySet:
    """Exact matches on name, status, availability zone and bootable, and metadata items."""
    for param, column in (("name", "name"), ("status", "status"), ("availability_zone", "availability_zone")):
        if params.get(param):
            qs = qs.filter(**{column: params[param]})
    if params.get("bootable"):
        qs = qs.filter(bootable=params["bootable"].strip().lower() not in _FALSE)
    if params.get("metadata"):
        for index, (key, value) in enumerate(_metadata_filter(params["metadata"]).items()):
            alias = f"metadata_item_{index}"
            qs = qs.alias(**{alias: KeyTransform(key, "metadata")}).filter(**{alias: value})
    return qs


def after_marker(qs: QuerySet, marker: Volume, order: list[tuple[str, str]]) -> QuerySet:
    """The volumes that come after ``marker`` in ``order``."""
    condition = Q()
    equal = Q()
    for column, direction in order:
        value = getattr(marker, column)
        step = Q(**{f"{column}__{'gt' if direction == 'asc' else 'lt'}": value})
        condition |= equal & step
        equal &= Q(**{column: value})
    return qs.filter(condition)


def ordered(qs: QuerySet, order: list[tuple[str, str]]) -> QuerySet:
    return qs.order_by(*(column if direction == "asc" else f"-{column}" for column, direction in order))


def page(qs: QuerySet, params, marker_volume) -> tuple[QuerySet, int | None]:
    """The page's queryset (sorted, after the marker, limited) and the limit asked for."""
    try:
        limit = int(params["limit"]) if "limit" in params else None
    except ValueError as exc:
        raise BadRequest(f"Invalid input received: limit {params['limit']!r} is not an integer.") from exc
    if limit is not None and limit < 0:
        raise BadRequest(f"Invalid input received: limit {limit} must be 0 or more.")
    order = parse_sort(params)
    qs = filtered(qs, params)
    if params.get("marker"):
        if marker_volume is None:
            raise NotFound(f"Marker {params['marker']} could not be found.")
        qs = after_marker(qs, marker_volume, order)
    qs = ordered(qs, order)
    return (qs[:limit] if limit is not None else qs), limit


def next_links(request, items: list, limit: int | None) -> list[dict]:
    """Cinder's ``volumes_links``: a next page while a page comes back full."""
    if not limit or len(items) < limit:
        return []
    query = {k: v for k, v in request.query_params.items() if k != "marker"}
    query["marker"] = str(items[-1].pk)
    return [{"rel": "next", "href": f"{base_url(request)}{request.path}?{urlencode(query)}"}]
