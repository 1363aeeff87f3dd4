"""Each user's display settings (Settings → User Settings): items per page in the dashboard's
tables and the time zone its dates are shown in. Read from the signed-in user, which the
authentication middleware has loaded already, so they cost no query."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.utils import timezone

PAGE_SIZES = (10, 20, 25, 50, 100)


@cache
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def items_per_page(user, default: int) -> int:
    """The user's choice, or the table's own default when they made none."""
    value = getattr(user, "items_per_page", None)
    return value if value in PAGE_SIZES else default


class TimeZoneMiddleware:
    """Dates in the dashboard's pages are shown in the signed-in user's time zone (UTC until they
    choose one); the APIs are untouched, they always speak UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        if name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
