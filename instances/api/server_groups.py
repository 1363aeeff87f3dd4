"""Nova's os-server-groups: create, list, show, delete; shapes per microversion (2.13 project and
user, 2.15 the soft policies, 2.64 ``policy`` + ``rules`` in place of ``policies``)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from dashboard.api.compute import ComputeView
from dashboard.api.microversion import APIVersion
from dashboard.api.schemas import invalid, resource_name
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest
from dashboard.policy import authorize
from instances import policies
from instances.choices import ServerGroupPolicy
from instances.models import ServerGroup, ServerGroupMember
from instances.services import server_groups

_FALSE = ("false", "0", "no", "off", "f", "n")


def group_json(request, group: ServerGroup, members: list[str]) -> dict:
    version = request.api_version
    out: dict = {"id": str(group.pk), "name": group.name}
    if version >= "2.64":
        out["policy"] = group.policy
        out["rules"] = group.rules or {}
    else:
        out["policies"] = [group.policy]
        out["metadata"] = {}
    out["members"] = members
    if version >= "2.13":
        out["project_id"] = group.project_id
        out["user_id"] = group.user_id or ""
    return out


def _create_body(body: Any, version: APIVersion) -> tuple[str, str, dict]:
    if not isinstance(body, dict) or not isinstance(body.get("server_group"), dict):
        raise BadRequest(
            "Invalid input for field/attribute server_group. 'server_group' is a required property"
        )
    data = body["server_group"]
    name = resource_name(data)
    allowed = {ServerGroupPolicy.AFFINITY.value, ServerGroupPolicy.ANTI_AFFINITY.value}
    if version >= "2.15":
        allowed |= set(server_groups.SOFT_POLICIES)
    if version >= "2.64":
        unknown = set(data) - {"name", "policy", "rules"}
        if unknown:
            raise BadRequest(
                "Invalid input for field/attribute server_group. Additional properties are not allowed "
                f"({', '.join(sorted(unknown))} unexpected)"
            )
        policy = data.get("policy")
        if policy is None:
            raise BadRequest("Invalid input for field/attribute policy. 'policy' is a required property")
        rules = data.get("rules") or {}
        if not isinstance(rules, dict):
            raise invalid("rules", rules, "It must be an object.")
    else:
        unknown = set(data) - {"name", "policies"}
        if unknown:
            raise BadRequest(
                "Invalid input for field/attribute server_group. Additional properties are not allowed "
                f"({', '.join(sorted(unknown))} unexpected)"
            )
        policies_ = data.get("policies")
        if not isinstance(policies_, list) or len(policies_) != 1:
            raise invalid("policies", policies_, "It must be a list of exactly one policy.")
        policy, rules = policies_[0], {}
    if policy not in allowed:
        raise invalid("policy", policy, f"It must be one of {', '.join(sorted(allowed))}.")
    return name, policy, rules


class ServerGroupListView(ComputeView):
    def get(self, request):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.SERVER_GROUPS_INDEX, {"project_id": ctx.project_id})
        params = request.query_params
        everyone = params.get("all_projects", "").strip().lower() not in ("", *_FALSE)
        if everyone:
            authorize(ctx, policies.SERVER_GROUPS_ALL_PROJECTS, {"project_id": ctx.project_id})
        groups = ServerGroup.objects.visible_to(ctx, all_projects=everyone).order_by("created_at", "pk")
        offset, limit = _paging(params)
        page = list(groups[offset : offset + limit] if limit is not None else groups[offset:])
        members = _members_of(page)
        return Response({"server_groups": [group_json(request, g, members.get(g.pk, [])) for g in page]})

    def post(self, request):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.SERVER_GROUPS_CREATE, {"project_id": ctx.project_id, "user_id": ctx.user.pk})
        name, policy, rules = _create_body(request.data, request.api_version)
        group = server_groups.create_group(ctx, name, policy, rules)
        return Response({"server_group": group_json(request, group, [])})


def _paging(params) -> tuple[int, int | None]:
    values = []
    for name in ("offset", "limit"):
        raw = params.get(name)
        if raw is None:
            values.append(None)
            continue
        try:
            number = int(raw)
        except ValueError as exc:
            raise invalid(name, raw, "It must be an integer.") from exc
        if number < (0 if name == "offset" else 1):
            raise invalid(name, raw, f"It must be at least {0 if name == 'offset' else 1}.")
        values.append(number)
    return values[0] or 0, values[1]


def _members_of(groups: list[ServerGroup]) -> dict:
    """Live members of every group on the page, in one query."""
    out: dict = {}
    if not groups:
        return out
    rows = (
        ServerGroupMember.objects.filter(group__in=groups, instance__deleted=False)
        .order_by("created_at", "id")
        .values_list("group_id", "instance_id")
    )
    for group_id, instance_id in rows:
        out.setdefault(group_id, []).append(str(instance_id))
    return out


class ServerGroupView(ComputeView):
    def get(self, request, group_id: str):
        ctx: RequestContext = request.auth
        group = server_groups.get_group(ctx, group_id)
        authorize(ctx, policies.SERVER_GROUPS_SHOW, {"project_id": group.project_id})
        return Response({"server_group": group_json(request, group, server_groups.member_ids(group))})

    def delete(self, request, group_id: str):
        ctx: RequestContext = request.auth
        group = server_groups.get_group(ctx, group_id)
        authorize(ctx, policies.SERVER_GROUPS_DELETE, {"project_id": group.project_id})
        server_groups.delete_group(group)
        return self.empty(204)
