"""Admin → Projects → Modify Quotas and Admin → Defaults: the limits of ``dashboard.quotas``, with
each project's usage beside them; the same rule as the quota APIs (never below the usage)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from dashboard import quotas
from dashboard.decorators import policy_required
from dashboard.forms import QuotaForm, shown
from dashboard.models import Project

RULE = "dashboard:update_quotas"


@policy_required(RULE)
def project_quotas(request: HttpRequest, project_id: str) -> HttpResponse:
    project = get_object_or_404(Project, id=project_id)
    form = QuotaForm(request.POST or None, limits=quotas.limits(project.pk), usage=quotas.usage(project.pk))
    if request.method == "POST" and form.is_valid():
        try:
            quotas.set_limits(project, form.changed_limits())
        except quotas.QuotaBelowUsage as exc:
            for resource, _limit, used in exc.below:
                form.add_error(
                    resource.name,
                    f"{resource.label} cannot be lower than the current usage: "
                    f"{shown(used, resource.scale)} in use.",
                )
            messages.error(request, f"Quotas of {project.name} not changed: {exc.message}")
        else:
            messages.success(request, f"Quotas of {project.name} updated.")
            return redirect("admin-project-detail", project_id=project.pk)
    return render(
        request,
        "dashboard/quotas/form.html",
        {
            "form": form,
            "title": f"Modify Quotas of {project.name}",
            "project": project,
            "cancel_url": reverse("admin-project-detail", args=[project.pk]),
        },
    )


@policy_required(RULE)
def default_quotas(request: HttpRequest) -> HttpResponse:
    form = QuotaForm(request.POST or None, limits=quotas.defaults())
    if request.method == "POST" and form.is_valid():
        quotas.set_defaults(form.changed_limits())
        messages.success(request, "Default quotas updated.")
        return redirect("admin-defaults")
    return render(
        request,
        "dashboard/quotas/form.html",
        {"form": form, "title": "Default Quotas", "cancel_url": reverse("admin-overview")},
    )
