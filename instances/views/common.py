"""Lookups shared by the instance pages: the instance a user may see, and where to go back to."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest
from django.urls import reverse

from dashboard.redirects import next_or
from instances.models import Instance


def visible_instance(request: HttpRequest, instance_id: uuid.UUID | str) -> Instance:
    """The live instance if the user may see it (own project's, any for an admin); 404 else,
    as the Compute API answers."""
    qs = Instance.objects.accessible_to(request.ctx).for_api().select_related("project")
    instance = qs.filter(pk=instance_id).first()
    if instance is None:
        raise Http404("Instance not found.")
    return instance


def back_url(request: HttpRequest, fallback: str = "instances") -> str:
    return next_or(request, reverse(fallback))
