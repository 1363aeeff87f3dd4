"""``request.ctx``, the policy context of a logged-in browser user and their current project; and
the OpenStack request id of every request (``x-openstack-request-id`` on API responses)."""

from __future__ import annotations

import uuid

from dashboard.context import RequestContext
from dashboard.models import Project

SESSION_PROJECT = "project_id"


def current_project(request) -> Project | None:
    """The session's project if the user still holds a role on it, else their default or first one."""
    user = request.user
    projects = user.projects()
    chosen = request.session.get(SESSION_PROJECT)
    project = projects.filter(id=chosen).first() if chosen else None
    if project is None and user.default_project_id:
        project = projects.filter(id=user.default_project_id).first()
    if project is None:
        project = projects.first()
    if project is not None and project.id != chosen:
        request.session[SESSION_PROJECT] = project.id
    return project


class ProjectContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.ctx = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            request.ctx = RequestContext.for_user(user, current_project(request))
        return self.get_response(request)


# The OpenStack APIs answer every request with the id it was logged under (oslo.middleware's
# request_id); clients print it and Tempest checks it.
API_PREFIXES = ("/compute", "/image", "/identity", "/volume")


class RequestIdMiddleware:
    """Give each request a fresh ``req-<uuid4>`` as ``request.request_id`` (the id its instance
    actions are recorded under) and return it in the API responses' headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = f"req-{uuid.uuid4()}"
        response = self.get_response(request)
        if request.path.startswith(API_PREFIXES):
            response["x-openstack-request-id"] = request.request_id
            if request.path.startswith("/compute"):
                response["x-compute-request-id"] = request.request_id
        return response
