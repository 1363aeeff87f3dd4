"""Edit Instance, Lock / Unlock and Update Metadata: row and detail actions of the Instances
panel, under the same policies as the compute API and through the same services."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard import metadata_catalog
from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.policy import can
from instances import policies
from instances.forms.instances import EditInstanceForm, LockForm, MetadataForm
from instances.models import Instance
from instances.services import locks, server_edit
from instances.views import rows
from instances.views.common import back_url, visible_instance
from instances.views.instances import row_response


def _allowed(request: HttpRequest, rule: str, what: str) -> Instance:
    instance = visible_instance(request, request.resolver_match.kwargs["instance_id"])
    if not can(request.ctx, rule, {"project_id": instance.project_id}):
        raise PermissionDenied(f"You may not {what} this instance.")
    return instance


def _form_page(request: HttpRequest, form, title: str, submit: str) -> HttpResponse:
    return render(
        request,
        "generic/form.html",
        {"form": form, "title": title, "submit": submit, "cancel_url": back_url(request)},
    )


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_SHOW)
def instance_edit(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    instance = _allowed(request, policies.SERVERS_UPDATE, "edit")
    initial = {"name": instance.name, "description": instance.description}
    form = EditInstanceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        server_edit.update(instance, **form.cleaned_data)
        messages.success(request, f"Instance {instance.name} was updated.")
        return redirect(back_url(request))
    return _form_page(request, form, f"Edit Instance {instance.name}", "Save")


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_SHOW)
def instance_metadata(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    """Update Metadata: the whole set, as the API's ``PUT /servers/{id}/metadata`` replaces it."""
    instance = _allowed(request, policies.METADATA_UPDATE_ALL, "update the metadata of")
    form = MetadataForm(request.POST or None, initial={"metadata": MetadataForm.as_text(instance.metadata)})
    if request.method == "POST" and form.is_valid():
        try:
            server_edit.set_metadata(request.ctx, instance, form.cleaned_data["metadata"], replace=True)
        except StratusError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"The metadata of {instance.name} was updated.")
            return redirect(back_url(request))
    return render(
        request,
        "instances/servers/metadata.html",
        {
            "form": form,
            "title": f"Update Metadata of {instance.name}",
            "submit": "Save",
            "cancel_url": back_url(request),
            "namespaces": metadata_catalog.known_properties(request.ctx, metadata_catalog.SERVER),
        },
    )


@require_http_methods(["GET", "POST"])
@policy_required(policies.SERVERS_SHOW)
def instance_lock(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    instance = _allowed(request, policies.LOCK, "lock")
    form = LockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        locks.lock(request.ctx, instance, form.cleaned_data["reason"], request_id=request.request_id)
        messages.success(request, f"Instance {instance.name} is locked.")
        return redirect(back_url(request))
    return _form_page(request, form, f"Lock Instance {instance.name}", "Lock")


@require_POST
@policy_required(policies.SERVERS_SHOW)
def instance_unlock(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    instance = _allowed(request, policies.UNLOCK, "unlock")
    if instance.locked and not rows.can_unlock(instance, rows.Permissions(request.ctx)):
        raise PermissionDenied("An administrator locked this instance; only an administrator can unlock it.")
    locks.unlock(request.ctx, instance, request_id=request.request_id)
    if request.htmx:
        return row_response(request, instance, None)
    messages.success(request, f"Instance {instance.name} is unlocked.")
    return redirect(back_url(request))
