"""Sets ``request.ctx``, the policy context of a logged-in browser user and their current project."""

from __future__ import annotations

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
