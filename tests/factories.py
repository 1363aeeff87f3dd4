"""Small builders for identity rows, shared by every test module."""

from __future__ import annotations

import uuid

from dashboard.context import RequestContext
from dashboard.models import Project, Role, RoleAssignment, Token, User

PASSWORD = "test-password-1"


def make_project(name: str | None = None, **fields) -> Project:
    return Project.objects.create(name=name or f"p-{uuid.uuid4().hex[:8]}", **fields)


def make_user(
    username: str | None = None,
    *,
    roles: dict[Project, str] | None = None,
    password: str = PASSWORD,
    **fields,
) -> User:
    """A user with ``roles`` = {project: role name}; the first project becomes the default one."""
    user = User(username=username or f"u-{uuid.uuid4().hex[:8]}", **fields)
    user.set_password(password)
    roles = roles or {}
    user.default_project = next(iter(roles), None)
    user.save()
    for project, role in roles.items():
        RoleAssignment.objects.create(user=user, project=project, role=Role.objects.get(name=role))
    return user


def issue_token(user: User, project: Project | None) -> str:
    raw, _ = Token.issue(user, project, ["password"])
    return raw


def context(user: User, project: Project | None) -> RequestContext:
    return RequestContext.for_user(user, project)
