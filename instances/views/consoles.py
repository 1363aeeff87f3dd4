"""The instance console in the browser (noVNC, static/js/console.js): the Console tab's part of the
detail page, the full-window console page of a logged-in user, and the page a console URL opens
with its token alone (what the Compute API hands out, e.g. to `openstack console url show`).

Pages with a console allow, in their CSP's connect-src, the console proxy's websocket origin
and nothing more."""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard.decorators import policy_required
from dashboard.policy import can
from instances import policies
from instances.models import Instance
from instances.services import consoles
from instances.views.common import visible_instance


def session_console(request: HttpRequest, instance: Instance) -> dict:
    """The console's context for a logged-in user: the page asks the Compute API for a token
    (POST /servers/{id}/remote-consoles) at each connect."""
    return {
        "console_ws": consoles.websocket_url(request),
        "console_token_url": f"/compute/v2.1/servers/{instance.pk}/remote-consoles",
    }


def allow_console_websocket(request: HttpRequest, response: HttpResponse) -> None:
    response._csp_update = {"connect-src": [consoles.websocket_origin(consoles.websocket_url(request))]}


@policy_required(policies.SERVERS_SHOW)
def instance_console_page(request: HttpRequest, instance_id: uuid.UUID) -> HttpResponse:
    """The console on a page of its own ("Open in new tab")."""
    instance = visible_instance(request, instance_id)
    if not can(request.ctx, policies.REMOTE_CONSOLES, {"project_id": instance.project_id}):
        raise PermissionDenied("You may not open this instance's console.")
    context = {
        "instance": instance,
        "back_url": f"{reverse('instance-detail', args=[instance.pk])}?tab=console",
        **session_console(request, instance),
    }
    response = render(request, "instances/servers/console_page.html", context)
    allow_console_websocket(request, response)
    return response


def console_page(request: HttpRequest) -> HttpResponse:
    """The console a console URL's token opens, to whoever holds the URL (no sign-in: the token
    is the credential, as with Nova's noVNC proxy). It shows that console and nothing else."""
    token = request.GET.get("token", "")
    context: dict = {"instance": None, "refused": ""}
    status = 200
    try:
        if not token:
            raise consoles.ConsoleRefused("The console URL carries no token.")
        row = consoles.lookup(token)
        reason = consoles.unavailable_reason(row.instance)
        if reason:
            raise consoles.ConsoleRefused(reason)
    except consoles.ConsoleRefused as exc:
        context["refused"], status = exc.message, exc.status
    else:
        context.update(instance=row.instance, console_token=token, console_ws=consoles.websocket_url(request))
    response = render(request, "instances/servers/console_page.html", context, status=status)
    response["Cache-Control"] = "no-store"
    if not context["refused"]:
        allow_console_websocket(request, response)
    return response
