"""The Project → Server Groups panel: the project's groups with their policy and members, Create
Server Group and Delete, through the server group services (the launch form offers the groups)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard.decorators import policy_required
from dashboard.exceptions import NotFound, StratusError
from dashboard.policy import can
from instances import policies
from instances.forms.server_groups import ServerGroupForm
from instances.models import ServerGroup, ServerGroupMember
from instances.services import server_groups


def _project(ctx) -> dict:
    return {"project_id": ctx.project_id}


@policy_required(policies.SERVER_GROUPS_INDEX, needs_project=True)
def server_group_list(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    groups = list(ServerGroup.objects.for_project(ctx.project_id).order_by("name", "created_at"))
    members: dict = {}
    rows = (
        ServerGroupMember.objects.filter(group__in=groups, instance__deleted=False)
        .select_related("instance", "instance__host")
        .order_by("created_at")
    )
    for row in rows:
        members.setdefault(row.group_id, []).append(row.instance)
    allowed = {
        "create": can(ctx, policies.SERVER_GROUPS_CREATE, _project(ctx)),
        "delete": can(ctx, policies.SERVER_GROUPS_DELETE, _project(ctx)),
    }
    return render(
        request,
        "instances/server_groups/list.html",
        {"groups": [(g, members.get(g.pk, [])) for g in groups], "allowed": allowed},
    )


@policy_required(policies.SERVER_GROUPS_CREATE, needs_project=True)
@require_http_methods(["GET", "POST"])
def server_group_create(request: HttpRequest) -> HttpResponse:
    form = ServerGroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            server_groups.create_group(request.ctx, data["name"], data["policy"], form.rules)
        except StratusError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f'Created server group "{data["name"]}".')
            return redirect("project-server-groups")
    return render(
        request,
        "instances/server_groups/form.html",
        {"form": form, "cancel_url": reverse("project-server-groups")},
    )


@policy_required(policies.SERVER_GROUPS_DELETE, needs_project=True)
@require_http_methods(["GET", "POST"])
def server_group_delete(request: HttpRequest, group_id: uuid.UUID) -> HttpResponse:
    try:
        group = server_groups.get_group(request.ctx, group_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if group.project_id != request.ctx.project_id:
        raise Http404(f"Instance group {group_id} could not be found.")
    if request.method == "POST":
        server_groups.delete_group(group)
        messages.success(request, f'Deleted server group "{group.name}".')
        return redirect("project-server-groups")
    return render(
        request,
        "generic/confirm.html",
        {
            "title": "Delete Server Group",
            "items": [f"{group.name} ({group.get_policy_display()})"],
            "warning": "Its instances keep running; they just leave the group.",
            "submit": "Delete Server Group",
            "cancel_url": reverse("project-server-groups"),
        },
    )
