"""os-simple-tenant-usage: every project's usage over a period (administrators) and one project's
(its readers too), as ``openstack usage list`` and ``openstack usage show`` ask for them. From 2.40
the instances are paged (``limit``, ``marker`` an instance id) and the totals cover the page, as
in Nova."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.utils import timezone
from rest_framework.response import Response

from dashboard.api.compute import ComputeView, compute_url
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest
from dashboard.policy import authorize
from instances import policies
from instances.api import paging
from instances.services import usage

FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


def parse_time(value: str | None, what: str) -> datetime:
    if not value:
        return timezone.now()
    text = value.strip()
    for fmt in FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"Invalid {what} time: {value!r}.") from exc
    if not parsed.tzinfo:
        return parsed.replace(tzinfo=UTC)
    try:  # an offset at the very ends of the calendar can move it past them
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise BadRequest(f"Invalid {what} time: {value!r} is out of range.") from exc


def _time(value: datetime | None) -> str | None:
    """Nova's form: UTC without an offset."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None).isoformat()


def server_json(server: usage.ServerUsage) -> dict:
    return {
        "instance_id": server.instance_id,
        "name": server.name,
        "tenant_id": server.project_id,
        "flavor": server.flavor,
        "vcpus": server.vcpus,
        "memory_mb": server.memory_mb,
        "local_gb": server.local_gb,
        "hours": server.hours,
        "started_at": _time(server.started_at),
        "ended_at": _time(server.ended_at),
        "state": server.state,
        "uptime": server.uptime,
    }


def project_json(project: usage.ProjectUsage, detailed: bool) -> dict:
    out = {
        "tenant_id": project.project_id,
        "total_hours": project.total_hours,
        "total_vcpus_usage": project.total_vcpus_usage,
        "total_memory_mb_usage": project.total_memory_mb_usage,
        "total_local_gb_usage": project.total_local_gb_usage,
        "start": _time(project.start),
        "stop": _time(project.stop),
    }
    if detailed:
        out["server_usages"] = [server_json(s) for s in project.servers]
    return out


class _UsageView(ComputeView):
    key = ""

    def period(self, request) -> tuple[datetime, datetime]:
        start = parse_time(request.query_params.get("start"), "start")
        stop = parse_time(request.query_params.get("end"), "end")
        if stop < start:
            raise BadRequest("Invalid start time. The start time cannot occur after the end time.")
        return start, stop

    def page(self, request, instances):
        """The instances of this page and the link to the next, from 2.40; all of them before."""
        if request.api_version < "2.40":
            return list(instances), None
        params = request.query_params
        limit = paging.limit_from(params)
        instances = paging.after_marker(
            instances, params.get("marker"), newest_first=False, missing="Marker {marker} could not be found."
        )
        page = list(instances[:limit]) if limit else []
        link = None
        if page and len(page) == limit:
            query = {k: v for k, v in params.items() if k != "marker"}
            query.update(limit=limit, marker=str(page[-1].pk))
            path = request.path.split("/v2.1/", 1)[-1]
            link = [{"rel": "next", "href": f"{compute_url(request)}/v2.1/{path}?{urlencode(query)}"}]
        return page, link


class UsageListView(_UsageView):
    def get(self, request):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.USAGE_LIST, {"project_id": ctx.project_id})
        start, stop = self.period(request)
        detailed = request.query_params.get("detailed", "") in ("1", "true", "True")
        instances, link = self.page(request, usage.instances_in(start, stop))
        projects = usage.usage_by_project(start, stop, instances=instances)
        body: dict = {"tenant_usages": [project_json(p, detailed) for p in projects.values()]}
        if link:
            body["tenant_usages_links"] = link
        return Response(body)


class UsageView(_UsageView):
    def get(self, request, project_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.USAGE_SHOW, {"project_id": project_id})
        start, stop = self.period(request)
        instances, link = self.page(request, usage.instances_in(start, stop, [project_id]))
        found = usage.usage_by_project(start, stop, instances=instances).get(project_id)
        body: dict = {"tenant_usage": project_json(found, True) if found else {}}
        if link:
            body["tenant_usage_links"] = link
        return Response(body)
