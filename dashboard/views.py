"""Pages of the dashboard shell and identity administration."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard import bulk
from dashboard.api.errors import json_error
from dashboard.decorators import policy_required
from dashboard.exceptions import Conflict
from dashboard.forms import AssignmentForm, ProjectForm, UserCreateForm, UserUpdateForm
from dashboard.identity import admin as identity_admin
from dashboard.middleware import SESSION_PROJECT
from dashboard.models import BulkItemStatus, BulkJobStatus, Project, RoleAssignment, Token, User
from dashboard.overview import render_sections
from dashboard.redirects import next_or


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


@login_required
@require_POST
def switch_project(request: HttpRequest, project_id: str) -> HttpResponse:
    project = request.user.projects().filter(id=project_id).first()
    if project is None:
        messages.error(request, "You have no role on that project.")
    else:
        request.session[SESSION_PROJECT] = project.id
        messages.success(request, f"Switched to project {project.name}.")
    return redirect(next_or(request, reverse("overview")))


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    members, sections = [], []
    if ctx.project is not None:
        members = (
            RoleAssignment.objects.filter(project=ctx.project)
            .select_related("user", "role")
            .order_by("user__username", "role__name")
        )
        sections = render_sections(request)
    return render(request, "dashboard/overview.html", {"members": members, "sections": sections})


@policy_required("dashboard:admin_section")
def admin_overview(request: HttpRequest) -> HttpResponse:
    stats = {
        "projects": Project.objects.count(),
        "enabled_projects": Project.objects.filter(enabled=True).count(),
        "users": User.objects.count(),
        "active_users": User.objects.filter(is_active=True).count(),
        "tokens": Token.objects.live().count(),
    }
    return render(request, "dashboard/admin_overview.html", {"stats": stats})


# --- Projects -------------------------------------------------------------------------------


@policy_required("identity:list_projects")
def project_list(request: HttpRequest) -> HttpResponse:
    projects = Project.objects.annotate(
        member_count=Count("assignments__user", distinct=True),
    ).order_by("name")
    query = request.GET.get("q", "").strip()
    if query:
        projects = projects.filter(Q(name__icontains=query) | Q(description__icontains=query))
    return render(request, "dashboard/projects/list.html", {"projects": projects, "query": query})


@policy_required("identity:create_project")
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = form.save()
        messages.success(request, f"Project {project.name} created.")
        return redirect("admin-project-detail", project_id=project.id)
    return render(
        request,
        "generic/form.html",
        {
            "form": form,
            "title": "Create Project",
            "submit": "Create Project",
            "cancel_url": reverse("admin-projects"),
        },
    )


@policy_required("identity:get_project")
def project_detail(request: HttpRequest, project_id: str) -> HttpResponse:
    project = get_object_or_404(Project, id=project_id)
    form = AssignmentForm(project=project)
    assignments = project.assignments.select_related("user", "role").order_by("user__username", "role__name")
    return render(
        request,
        "dashboard/projects/detail.html",
        {"project": project, "assignments": assignments, "form": form},
    )


@policy_required("identity:update_project")
def project_edit(request: HttpRequest, project_id: str) -> HttpResponse:
    project = get_object_or_404(Project, id=project_id, service=False)
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Project {project.name} updated.")
        return redirect("admin-project-detail", project_id=project.id)
    return render(
        request,
        "generic/form.html",
        {
            "form": form,
            "title": f"Edit Project {project.name}",
            "submit": "Save",
            "cancel_url": reverse("admin-project-detail", args=[project.id]),
        },
    )


@policy_required("identity:delete_project")
def project_delete(request: HttpRequest, project_id: str) -> HttpResponse:
    project = get_object_or_404(Project, id=project_id, service=False)
    if project.id == request.ctx.project_id:
        messages.error(
            request, "You cannot delete the project you are working in; switch to another one first."
        )
        return redirect("admin-project-detail", project_id=project.id)
    if request.method == "POST":
        name = project.name
        try:
            identity_admin.delete_project(project)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("admin-project-detail", project_id=project.id)
        messages.success(request, f"Project {name} deleted.")
        return redirect("admin-projects")
    return render(
        request,
        "generic/confirm.html",
        {
            "title": f"Delete Project {project.name}",
            "items": [project.name],
            "warning": "Deleting a project is permanent. Its role assignments and API tokens are removed.",
            "submit": "Delete Project",
            "cancel_url": reverse("admin-project-detail", args=[project.id]),
        },
    )


@policy_required("identity:create_grant")
@require_POST
def assignment_add(request: HttpRequest, project_id: str) -> HttpResponse:
    project = get_object_or_404(Project, id=project_id)
    form = AssignmentForm(request.POST, project=project)
    if form.is_valid():
        identity_admin.grant(form.cleaned_data["user"], project, form.cleaned_data["role"])
        messages.success(
            request, f"{form.cleaned_data['user']} now has the {form.cleaned_data['role']} role on {project}."
        )
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("admin-project-detail", project_id=project.id)


@policy_required("identity:revoke_grant")
@require_POST
def assignment_remove(request: HttpRequest, project_id: str, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(
        RoleAssignment.objects.select_related("user", "role", "project"),
        id=assignment_id,
        project_id=project_id,
    )
    # Without any role left on the project the user's tokens scoped to it no longer stand.
    identity_admin.revoke(assignment.user, assignment.project, assignment.role)
    messages.success(
        request, f"Removed the {assignment.role} role of {assignment.user} on {assignment.project}."
    )
    return redirect("admin-project-detail", project_id=project_id)


# --- Users ----------------------------------------------------------------------------------


@policy_required("identity:list_users")
def user_list(request: HttpRequest) -> HttpResponse:
    users = User.objects.select_related("default_project").prefetch_related(
        "assignments__project", "assignments__role"
    )
    query = request.GET.get("q", "").strip()
    if query:
        users = users.filter(Q(username__icontains=query) | Q(email__icontains=query))
    return render(request, "dashboard/users/list.html", {"users": users, "query": query})


@policy_required("identity:create_user")
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        messages.success(request, f"User {user.username} created.")
        return redirect("admin-users")
    return render(
        request,
        "generic/form.html",
        {"form": form, "title": "Create User", "submit": "Create User", "cancel_url": reverse("admin-users")},
    )


@policy_required("identity:update_user")
def user_edit(request: HttpRequest, user_id: str) -> HttpResponse:
    user = get_object_or_404(User, id=user_id, service=False)
    form = UserUpdateForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"User {user.username} updated.")
        return redirect("admin-users")
    return render(
        request,
        "generic/form.html",
        {
            "form": form,
            "title": f"Edit User {user.username}",
            "submit": "Save",
            "cancel_url": reverse("admin-users"),
        },
    )


@policy_required("identity:delete_user")
def user_delete(request: HttpRequest, user_id: str) -> HttpResponse:
    user = get_object_or_404(User, id=user_id, service=False)
    if user.id == request.user.id:
        messages.error(request, "You cannot delete yourself.")
        return redirect("admin-users")
    if request.method == "POST":
        user.delete()
        messages.success(request, f"User {user.username} deleted.")
        return redirect("admin-users")
    return render(
        request,
        "generic/confirm.html",
        {
            "title": f"Delete User {user.username}",
            "items": [user.username],
            "warning": "Deleting a user is permanent; their role assignments and API tokens go with them.",
            "submit": "Delete User",
            "cancel_url": reverse("admin-users"),
        },
    )


# --- Errors ---------------------------------------------------------------------------------


def _error(request, status: int, template: str, message: str) -> HttpResponse:
    return json_error(request, status, message) or render(
        request, template, {"message": message}, status=status
    )


def bad_request(request, exception=None):
    return _error(request, 400, "400.html", "The request could not be understood.")


def permission_denied(request, exception=None):
    return _error(request, 403, "403.html", str(exception) if exception else "You may not do that.")


def page_not_found(request, exception=None):
    return _error(request, 404, "404.html", "The resource could not be found.")


def server_error(request):
    response = json_error(
        request, 500, "The server has either erred or is incapable of performing the requested operation."
    )
    return response or render(request, "500.html", status=500)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# --- bulk jobs ------------------------------------------------------------------------------------

JOB_PAGE_SIZE = 100


@login_required
def bulk_job(request: HttpRequest, job_id) -> HttpResponse:
    """A bulk job's progress and its result per item; the progress part refreshes itself (htmx)
    until the job is finished. ``?status=refused`` shows the items with that result only."""
    job = get_object_or_404(bulk.jobs_visible_to(request.ctx), pk=job_id)
    status = request.GET.get("status", "")
    items = job.items.exclude(status=BulkItemStatus.PENDING)
    if status in BulkItemStatus.values:
        items = job.items.filter(status=status)
    page = Paginator(items.order_by("position"), JOB_PAGE_SIZE).get_page(request.GET.get("page"))
    counts = bulk.counts(job)
    settled = job.total - counts[BulkItemStatus.PENDING]
    context = {
        "job": job,
        "counts": counts,
        "settled": settled,
        "percent": round(100 * settled / job.total) if job.total else 100,
        "finished": job.status == BulkJobStatus.DONE,
        "page": page,
        "status": status,
        "statuses": BulkItemStatus.choices,
        "query": urlencode({"status": status}) if status else "",
    }
    template = "dashboard/_bulk_progress.html" if request.htmx else "dashboard/bulk_job.html"
    return render(request, template, context)
