"""Project → Instances and Admin → Instances: the table, its live rows, row and batch actions."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard import bulk, preferences
from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.models import Project
from dashboard.policy import can
from instances import policies
from instances.filters import InstanceFilter
from instances.forms.instances import SnapshotForm
from instances.models import ComputeHost, Instance
from instances.services import bulk as instance_bulk
from instances.services import servers, shelve
from instances.views import rows
from instances.views.common import back_url, visible_instance

PAGE_SIZE = 20
LISTED = 50  # a batch dialog lists this many instances by name; the rest are counted


def _page(request: HttpRequest, all_projects: bool) -> dict:
    ctx = request.ctx
    qs = Instance.objects.visible_to(ctx, all_projects=all_projects).select_related("network", "host")
    if all_projects:
        qs = qs.select_related("project")
    used = qs.order_by().values_list("image_id", "flavor_ref", "flavor_name").distinct()
    image_ids, flavors = set(), {}
    for image_id, flavor_ref, flavor_name in used:
        image_ids.add(image_id)
        flavors[flavor_ref] = flavor_name
    names = rows.image_names(image_ids)
    projects = hosts = None
    if all_projects:
        projects = list(Project.objects.order_by("name").values_list("id", "name"))
        hosts = [(name, name) for name in ComputeHost.objects.order_by("name").values_list("name", flat=True)]
    filters = InstanceFilter(
        request.GET or None,
        queryset=qs,
        image_choices=sorted(((i, names.get(i, i)) for i in image_ids if i), key=lambda c: c[1]),
        flavor_choices=sorted(flavors.items(), key=lambda c: c[1]),
        project_choices=projects,
        host_choices=hosts,
    )
    per_page = preferences.items_per_page(request.user, PAGE_SIZE)
    page = Paginator(filters.qs.order_by("-created_at", "-id"), per_page).get_page(request.GET.get("page"))
    perms = rows.Permissions(ctx)
    table = [rows.build_row(i, perms, names.get(i.image_id, i.image_id or "—")) for i in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "rows": table,
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "all_projects": all_projects,
        "can_launch": can(ctx, policies.SERVERS_CREATE),
        "batch": {name: label for name, (label, rule) in rows.BATCH_ACTIONS.items() if can(ctx, rule)},
        "matching_fields": filter_fields(request.GET, all_projects),
    }


@policy_required(policies.SERVERS_DETAIL, needs_project=True)
def instance_list(request: HttpRequest) -> HttpResponse:
    return render(request, "instances/servers/list.html", _page(request, all_projects=False))


@policy_required(policies.SERVERS_DETAIL_ALL_TENANTS)
def admin_instance_list(request: HttpRequest) -> HttpResponse:
    return render(request, "instances/servers/list.html", _page(request, all_projects=True))


def row_response(request: HttpRequest, instance: Instance, poll: int | None, error: str = "") -> HttpResponse:
    perms = rows.Permissions(request.ctx)
    names = rows.image_names([instance.image_id])
    row = rows.build_row(instance, perms, names.get(instance.image_id, instance.image_id or "—"), poll)
    row.error = error
    admin_view = request.GET.get("admin") == "1" or request.POST.get("admin") == "1"
    return render(request, "instances/servers/_row.html", {"row": row, "all_projects": admin_view})


@policy_required(policies.SERVERS_SHOW)
def instance_row(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    """One row, for the live refresh of a transitional instance; a deleted one leaves the table."""
    qs = Instance.objects.accessible_to(request.ctx).for_api().select_related("project")
    instance = qs.filter(pk=instance_id).first()
    if instance is None:
        return HttpResponse("")
    try:
        poll = int(request.GET.get("poll", "0"))
    except ValueError:
        poll = 0
    return row_response(request, instance, poll)


# Row actions with more to do than a task state: shelve makes its snapshot image, unshelve of an
# offloaded instance schedules it.
SPECIAL_BEGINS = {"shelve": shelve.begin_shelve, "unshelve": shelve.begin_unshelve}


@require_POST
@policy_required(policies.SERVERS_SHOW)
def instance_action(request: HttpRequest, instance_id: uuid.UUID, action: str) -> HttpResponse:
    """A power action from a row menu or the detail page; the row comes back, polling."""
    spec = rows.POWER_BY_NAME.get(action)
    instance = visible_instance(request, instance_id)
    if spec is None or not can(request.ctx, spec.rule, {"project_id": instance.project_id}):
        raise PermissionDenied(f"You may not {action} this instance.")
    error = ""
    begin = SPECIAL_BEGINS.get(action)
    try:
        if begin is not None:
            begin(request.ctx, instance)
        else:
            servers.begin_action(request.ctx, instance, action, request_id=request.request_id)
    except StratusError as exc:
        error = exc.message
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"{spec.label}: requested for {instance.name}.")
        return redirect(back_url(request))
    instance.refresh_from_db()
    return row_response(request, instance, None, error)


FILTERS = ("name", "status", "image", "flavor")
ADMIN_FILTERS = ("project", "host")  # only the admin's list of every project has these


def filter_fields(params, all_projects: bool) -> list[tuple[str, str]]:
    """The panel's filter as (name, value) pairs, for the hidden fields of "all matching": every
    filter the page applies (see ``_page``), so the job acts on exactly what the page counts."""
    names = FILTERS + ADMIN_FILTERS if all_projects else FILTERS
    fields = [(k, v) for k in names for v in params.getlist(k) if v]
    return [*fields, ("admin", "1")] if all_projects else fields


def matching(request: HttpRequest, params, all_projects: bool):
    """Every instance the panel's filter in ``params`` matches, in the panel's order: the same
    filters as the page (``_page``), the project and host ones for the admin's list only."""
    qs = Instance.objects.visible_to(request.ctx, all_projects=all_projects)
    admin = [] if all_projects else None
    filters = InstanceFilter(params, queryset=qs, project_choices=admin, host_choices=admin)
    return filters.qs.order_by("-created_at", "-id")


def _selected(request: HttpRequest) -> tuple[list[Instance], int, list[tuple[str, str]] | None]:
    """(the instances the dialog lists, how many are selected, the filter when "all matching")."""
    params = request.POST if request.method == "POST" else request.GET
    if params.get("all") == "1":
        all_projects = params.get("admin") == "1" and request.ctx.is_admin
        qs = matching(request, params, all_projects).select_related("host", "project")
        fields = [("all", "1"), *filter_fields(params, all_projects)]
        return list(qs[:LISTED]), qs.count(), fields
    ids = []
    for value in params.getlist("id"):
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    qs = Instance.objects.accessible_to(request.ctx).filter(pk__in=ids).select_related("host", "project")
    listed = list(qs.order_by("name"))
    return listed, len(listed), None


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_SHOW)
def instance_batch(request: HttpRequest, action: str) -> HttpResponse:
    """Confirm a batch action on the ticked instances or on every instance matching the filter,
    listing what will happen to each; then a bulk job does it, with a result per instance."""
    if action not in rows.BATCH_ACTIONS:
        raise PermissionDenied("No such batch action.")
    label, rule = rows.BATCH_ACTIONS[action]
    listed, total, fields = _selected(request)
    back = back_url(request)
    if not total:
        messages.error(request, "Select at least one instance.")
        return redirect(back)
    if request.method == "POST" and "confirm" in request.POST:
        if fields is None:
            targets = [(str(i.pk), i.name) for i in listed]
        else:
            params = request.POST
            qs = matching(request, params, params.get("admin") == "1" and request.ctx.is_admin)
            targets = [(str(pk), name) for pk, name in qs.values_list("pk", "name")]
        job = bulk.start_job(
            request.ctx,
            instance_bulk.KIND,
            action,
            targets,
            label=instance_bulk.LABELS[action],
            params={"request_id": f"req-{uuid.uuid4()}"},
            back_url=back,
        )
        return redirect("bulk-job", job_id=job.pk)
    plan = []
    for instance in listed:
        allowed = rows.state_allows(instance, action) and can(
            request.ctx, rule, {"project_id": instance.project_id}
        )
        plan.append((instance, allowed))
    return render(
        request,
        "instances/servers/confirm_batch.html",
        {
            "action": action,
            "label": label,
            "plan": plan,
            "total": total,
            "fields": fields or [("id", str(i.pk)) for i in listed],
            "all_matching": fields is not None,
            "next": back,
            "danger": action == "delete",
        },
    )


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_CREATE_IMAGE)
def instance_snapshot(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:

    instance = visible_instance(request, instance_id)
    if not can(request.ctx, policies.SERVERS_CREATE_IMAGE, {"project_id": instance.project_id}):
        raise PermissionDenied("You may not snapshot this instance.")
    form = SnapshotForm(request.POST or None, initial={"name": f"{instance.name}-snapshot"})
    if request.method == "POST" and form.is_valid():
        try:
            image = servers.create_snapshot(
                request.ctx, instance, form.cleaned_data["name"], request_id=request.request_id
            )
        except StratusError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request, f'Snapshot "{image.name}" of {instance.name} is being created; it appears in Images.'
            )
            return redirect(back_url(request))
    return render(
        request,
        "generic/form.html",
        {
            "form": form,
            "title": f"Create Snapshot of {instance.name}",
            "submit": "Create Snapshot",
            "cancel_url": back_url(request),
        },
    )
