"""Nova's os-instance-actions: ``GET /servers/{id}/os-instance-actions`` and ``…/{request_id}``
with the action's events. The same records as the dashboard's Action Log."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.response import Response

from dashboard.api.compute import ComputeView, compute_url
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize, can
from instances import policies
from instances.models import Instance, InstanceAction, InstanceActionEvent


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def server_for_actions(request, server_id: str) -> Instance:
    """The server, deleted ones included from 2.21 (Nova reads them with read_deleted)."""
    ctx: RequestContext = request.auth
    try:
        pk = uuid.UUID(server_id)
    except ValueError as exc:
        raise NotFound(f"Instance {server_id} could not be found.") from exc
    qs = Instance.objects.all() if ctx.is_admin else Instance.objects.filter(project_id=ctx.project_id)
    if request.api_version < "2.21":
        qs = qs.filter(deleted=False)
    instance = qs.filter(pk=pk).first()
    if instance is None:
        raise NotFound(f"Instance {server_id} could not be found.")
    return instance


def action_json(request, action: InstanceAction) -> dict:
    out = {
        "action": action.action,
        "instance_uuid": str(action.instance_id),
        "message": "Error" if action.result == "Error" else None,
        "project_id": action.project_id or None,
        "request_id": action.request_id,
        "start_time": _time(action.start_time),
        "user_id": action.user_id,
    }
    if request.api_version >= "2.58":
        out["updated_at"] = _time(action.updated_at)
    return out


def event_json(request, event: InstanceActionEvent, project_id: str, *, admin: bool, details: bool) -> dict:
    version = request.api_version
    out = {
        "event": event.event,
        "start_time": _time(event.start_time),
        "finish_time": _time(event.finish_time),
        "result": event.result or None,
    }
    if admin:
        out["traceback"] = event.traceback or None
    if version >= "2.62":
        out["hostId"] = hashlib.sha224(f"{project_id}{event.host}".encode()).hexdigest() if event.host else ""
        if admin:
            out["host"] = event.host
    if version >= "2.84" and details:
        out["details"] = event.details or None
    return out


def _since(params, name: str):
    value = params.get(name)
    if value is None:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise BadRequest(
            f"Invalid input for query parameters {name}. Value: {value}. '{value}' is not a 'date-time'"
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.utc)
    return moment


class InstanceActionListView(ComputeView):
    def get(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = server_for_actions(request, server_id)
        authorize(ctx, policies.ACTIONS_LIST, {"project_id": instance.project_id})
        qs = instance.actions.order_by("-start_time", "-id")
        body: dict = {}
        if request.api_version >= "2.58":
            qs, body = self._paged(request, qs, instance)
        else:
            qs = list(qs)
        body = {"instanceActions": [action_json(request, a) for a in qs], **body}
        return Response(body)

    def _paged(self, request, qs, instance: Instance):
        params = request.query_params
        since = _since(params, "changes-since")
        before = _since(params, "changes-before") if request.api_version >= "2.66" else None
        if since and before and since > before:
            raise BadRequest("The value of changes-since must be less than or equal to changes-before.")
        if since:
            qs = qs.filter(updated_at__gte=since)
        if before:
            qs = qs.filter(updated_at__lte=before)
        marker = params.get("marker")
        if marker is not None:
            anchor = qs.filter(request_id=marker).values("start_time", "pk").first()
            if anchor is None:
                raise BadRequest(f"Marker {marker} could not be found.")
            qs = qs.filter(
                Q(start_time__lt=anchor["start_time"])
                | Q(start_time=anchor["start_time"], pk__lt=anchor["pk"])
            )
        limit = params.get("limit")
        if limit is not None and not limit.isdigit():
            raise BadRequest(
                f"Invalid input for query parameters limit. Value: {limit}. '{limit}' is not an integer"
            )
        # As Nova: at most max_limit a page, and a next link when the page is full.
        count = min(int(limit or settings.COMPUTE_API_MAX_LIMIT), settings.COMPUTE_API_MAX_LIMIT)
        page = list(qs[:count])
        extra: dict = {}
        if page and len(page) == count:
            href = (
                f"{compute_url(request)}/v2.1/servers/{instance.pk}/os-instance-actions"
                f"?limit={count}&marker={page[-1].request_id}"
            )
            extra["links"] = [{"rel": "next", "href": href}]
        return page, extra


class InstanceActionView(ComputeView):
    def get(self, request, server_id: str, request_id: str):
        ctx: RequestContext = request.auth
        instance = server_for_actions(request, server_id)
        target = {"project_id": instance.project_id}
        authorize(ctx, policies.ACTIONS_SHOW, target)
        action = instance.actions.filter(request_id=request_id).order_by("-start_time", "-id").first()
        if action is None:
            raise NotFound(f"Action {request_id} not found")
        admin = can(ctx, policies.ACTIONS_EVENTS, target)
        out = action_json(request, action)
        if request.api_version >= "2.51" or admin:
            details = can(ctx, policies.ACTIONS_EVENTS_DETAILS, target)
            out["events"] = [
                event_json(request, e, instance.project_id, admin=admin, details=details)
                for e in action.events.all()
            ]
        return Response({"instanceAction": out})
