"""Service identities: the users the cloud's own processes act as (the compute agent reading
image data through the image API), in the ``service`` project.

They are marked (``User.service``, ``Project.service``) and created only here, by ``bootstrap``
or on the first use of a process that needs one. An existing user or project that bears a service
name without the mark is never adopted (that would make an ordinary account an administrator):
the process stops and says so. The identity administration (API and dashboard) refuses these
names and leaves marked identities alone, and no one signs in as one with a password
(``ServiceAwareBackend``): a process issues itself a token through the database.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db import IntegrityError, transaction

from dashboard.models import Project, Role, RoleAssignment, User

SERVICE_PROJECT = "service"
COMPUTE_USER = "compute"
# Names an administrator cannot give to a user or project (compared without case).
RESERVED_USER_NAMES = frozenset({COMPUTE_USER})
RESERVED_PROJECT_NAMES = frozenset({SERVICE_PROJECT})
# What each service user holds on the service project. The compute agent streams the data of
# any project's images, private ones included, and only the admin role reads every project's
# images; no narrower role exists.
SERVICE_ROLES = {COMPUTE_USER: Role.ADMIN}


class ServiceIdentityConflict(Exception):
    """A user or project that is not a service identity holds a service identity's name."""


def is_reserved_user_name(name: str) -> bool:
    return name.strip().lower() in RESERVED_USER_NAMES


def is_reserved_project_name(name: str) -> bool:
    return name.strip().lower() in RESERVED_PROJECT_NAMES


def _conflict(kind: str, name: str) -> ServiceIdentityConflict:
    return ServiceIdentityConflict(
        f"A {kind} named {name!r} exists that is not the cloud's service {kind}; it is not made one. "
        f"Rename or delete that {kind} (it was not created by Stratus), then start again."
    )


def _project() -> Project:
    project = Project.objects.filter(name__iexact=SERVICE_PROJECT).first()
    if project is None:
        try:
            with transaction.atomic():
                project = Project.objects.create(
                    name=SERVICE_PROJECT,
                    description="Service identities of the cloud's own processes",
                    service=True,
                )
        except IntegrityError:  # created meanwhile by another process
            project = Project.objects.get(name__iexact=SERVICE_PROJECT)
    if not project.service:
        raise _conflict("project", project.name)
    return project


def service_identity(username: str) -> tuple[User, Project]:
    """The service user ``username`` and the service project, created (marked, without a
    password) when absent. Raises ServiceIdentityConflict when either name is held by an
    ordinary user or project."""
    project = _project()
    user = User.objects.filter(username__iexact=username).first()
    if user is None:
        user = User(username=username, default_project=project, service=True)
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save(force_insert=True)
        except IntegrityError:
            user = User.objects.get(username__iexact=username)
    if not user.service:
        raise _conflict("user", user.username)
    role, _ = Role.objects.get_or_create(name=SERVICE_ROLES[username])
    RoleAssignment.objects.get_or_create(user=user, project=project, role=role)
    return user, project


class ServiceAwareBackend(ModelBackend):
    """Django's model backend, except that a service identity never signs in with a password."""

    def user_can_authenticate(self, user) -> bool:
        return not getattr(user, "service", False) and super().user_can_authenticate(user)
