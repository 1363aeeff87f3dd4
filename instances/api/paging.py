"""Nova's paging of lists by ``limit`` and ``marker``, shared by the servers list and
os-simple-tenant-usage (both ordered by creation time, then id)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import Q, QuerySet

from dashboard.exceptions import BadRequest


def limit_from(params) -> int:
    """The page size asked for, at most COMPUTE_API_MAX_LIMIT (which is also the default)."""
    max_limit = settings.COMPUTE_API_MAX_LIMIT
    raw = params.get("limit")
    try:
        limit = max_limit if raw is None else min(int(raw), max_limit)
    except ValueError as exc:
        raise BadRequest(f"Invalid limit [{raw}]") from exc
    if limit < 0:
        raise BadRequest(f"Invalid limit [{limit}]")
    return limit


def after_marker(rows: QuerySet, marker: str | None, *, newest_first: bool, missing: str) -> QuerySet:
    """The rows that come after ``marker`` (an id among ``rows``) in (created_at, pk) order, or
    ascending or descending; ``missing`` is the 400's message when the marker is not there (it may
    name the marker with ``{marker}``)."""
    if marker is None:
        return rows
    try:
        marker_id = uuid.UUID(marker)
    except ValueError:
        marker_id = None
    anchor = rows.filter(pk=marker_id).values("created_at", "pk").first() if marker_id else None
    if anchor is None:
        raise BadRequest(missing.format(marker=marker))
    if newest_first:
        return rows.filter(
            Q(created_at__lt=anchor["created_at"]) | Q(created_at=anchor["created_at"], pk__lt=anchor["pk"])
        )
    return rows.filter(
        Q(created_at__gt=anchor["created_at"]) | Q(created_at=anchor["created_at"], pk__gt=anchor["pk"])
    )
