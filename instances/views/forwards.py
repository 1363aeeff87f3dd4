"""Add and remove an instance's port forwards from its detail page."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.policy import can
from instances import policies
from instances.forms.instances import PortForwardForm
from instances.services import forwards
from instances.views.common import visible_instance


def _back(instance_id) -> HttpResponse:
    return redirect("instance-detail", instance_id=instance_id)


@require_POST
@policy_required(policies.SERVERS_SHOW)
def forward_add(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    instance = visible_instance(request, instance_id)
    if not can(request.ctx, policies.PORT_FORWARDS_CREATE, {"project_id": instance.project_id}):
        raise PermissionDenied("You may not add port forwards to this instance.")
    form = PortForwardForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back(instance.pk)
    try:
        forward = forwards.add_forward(instance, form.cleaned_data["guest_port"])
    except StratusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Port {forward.guest_port} of {instance.name} is reachable at {forward.ssh}."
        )
    return _back(instance.pk)


@require_POST
@policy_required(policies.SERVERS_SHOW)
def forward_remove(request: HttpRequest, instance_id: uuid.UUID, forward_id: uuid.UUID) -> HttpResponse:
    instance = visible_instance(request, instance_id)
    if not can(request.ctx, policies.PORT_FORWARDS_DELETE, {"project_id": instance.project_id}):
        raise PermissionDenied("You may not remove port forwards of this instance.")
    try:
        forwards.remove_forward(instance, forward_id)
    except StratusError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The port forward is removed.")
    return _back(instance.pk)
