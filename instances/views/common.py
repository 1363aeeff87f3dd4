"""Lookups shared by the instance pages: the instance a user may see, and where to go back to."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from instances.models import Instance


def visible_instance(request: HttpRequest, instance_id: uuid.UUID | str) -> Instance:
    """The live instance if the user may see it (own project's, any for an admin); 404 else,
    as the Compute API answers."""
    ctx = request.ctx
    qs = Instance.objects.alive().for_api().select_related("project").filter(pk=instance_id)
    if not ctx.is_admin:
        qs = qs.filter(project_id=ctx.project_id)
    instance = qs.first()
    if instance is None:
        raise Http404("Instance not found.")
    return instance


def back_url(request: HttpRequest, fallback: str = "instances") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse(fallback)
