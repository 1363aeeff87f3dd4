"""Identity administration: projects, users and role assignments, for the Keystone v3 API and the
dashboard's Admin panels alike, so both follow the same rules.

- Names are unique (projects case-insensitively, as the dashboard has always kept them).
- Stratus has one domain, Keystone's ``default``; naming another is refused with that said.
- A project that still owns resources cannot be deleted: the apps above register what they count
  (``register_project_usage``) and the refusal names it, where Keystone would leave the resources
  orphaned in the other services.
- Role assignments are idempotent; losing the last role on a project ends the user's tokens
  scoped to it, a new password ends all of the user's tokens, and every change that a cached token
  stands on retires the token cache (``token_cache`` listens to the model signals).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from dashboard.exceptions import BadRequest, Conflict, Unauthorized
from dashboard.identity.domain import DOMAIN
from dashboard.identity.service import is_reserved_project_name, is_reserved_user_name
from dashboard.models import Project, Role, RoleAssignment, Token, User

# Callables that describe what a project still owns ("2 instances"); empty when nothing.
ProjectUsage = Callable[[Project], list[str]]
_usage: list[ProjectUsage] = []


def register_project_usage(check: ProjectUsage) -> None:
    if check not in _usage:
        _usage.append(check)


def check_domain(domain_id) -> None:
    if domain_id not in (None, DOMAIN["id"]):
        raise BadRequest(
            f"Stratus has one domain, {DOMAIN['name']!r} (id {DOMAIN['id']!r}); domain {domain_id!r} "
            "does not exist and cannot be created."
        )


def _duplicate(kind: str, name: str) -> Conflict:
    return Conflict(
        f"Conflict occurred attempting to store {kind} - Duplicate entry found with name {name} "
        f"at domain ID {DOMAIN['id']}."
    )


def _name(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 150:
        raise BadRequest(f"Invalid {what} name: it must be a non-empty string of at most 150 characters.")
    reserved = is_reserved_user_name if what == "user" else is_reserved_project_name
    if reserved(value):
        raise BadRequest(f"Invalid {what} name: {value.strip()!r} is reserved for the cloud's own services.")
    return value.strip()


def _not_service(row: User | Project) -> None:
    if row.service:
        kind = "user" if isinstance(row, User) else "project"
        raise Conflict(f"{row} is the cloud's service {kind}; it is not changed through the identity API.")


# --- projects -----------------------------------------------------------------------------------


def create_project(name, description: str = "", enabled: bool = True) -> Project:
    name = _name(name, "project")
    with transaction.atomic():
        if Project.objects.filter(name__iexact=name).exists():
            raise _duplicate("project", name)
        return Project.objects.create(name=name, description=description or "", enabled=bool(enabled))


def update_project(project: Project, **fields) -> Project:
    _not_service(project)
    with transaction.atomic():
        if "name" in fields:
            name = _name(fields["name"], "project")
            if Project.objects.filter(name__iexact=name).exclude(pk=project.pk).exists():
                raise _duplicate("project", name)
            project.name = name
        if "description" in fields:
            project.description = fields["description"] or ""
        if "enabled" in fields:
            project.enabled = bool(fields["enabled"])
        project.save()
    return project


def project_usage(project: Project) -> list[str]:
    return [item for check in _usage for item in check(project)]


def delete_project(project: Project) -> None:
    _not_service(project)
    with transaction.atomic():
        Project.objects.lock(project.pk)
        owned = project_usage(project)
        if owned:
            raise Conflict(
                f"Project {project.name} still owns {', '.join(owned)}; delete them before the project."
            )
        project.delete()


# --- users --------------------------------------------------------------------------------------


def _password(password, user: User | None = None) -> str:
    if not isinstance(password, str) or not password:
        raise BadRequest("Invalid password: it must be a non-empty string.")
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise BadRequest(f"Invalid password: {' '.join(exc.messages)}") from exc
    return password


def create_user(
    name,
    password,
    *,
    email: str = "",
    enabled: bool = True,
    default_project: Project | None = None,
    extra: dict | None = None,
) -> User:
    name = _name(name, "user")
    user = User(
        username=name,
        email=email or "",
        is_active=bool(enabled),
        default_project=default_project,
        extra=extra or {},
    )
    user.set_password(_password(password, user))
    try:
        with transaction.atomic():
            if User.objects.filter(username=name).exists():
                raise IntegrityError
            user.save()
    except IntegrityError as exc:
        raise _duplicate("user", name) from exc
    return user


def update_user(user: User, **fields) -> User:
    """Change the given fields of ``user``. Only those columns are written, so a change made to the
    row since ``user`` was loaded (an administrator disabling the user meanwhile) is kept."""
    changed: list[str] = []
    _not_service(user)
    with transaction.atomic():
        if "name" in fields:
            name = _name(fields["name"], "user")
            if User.objects.filter(username=name).exclude(pk=user.pk).exists():
                raise _duplicate("user", name)
            user.username = name
            changed.append("username")
        if "email" in fields:
            user.email = fields["email"] or ""
            changed.append("email")
        if "enabled" in fields:
            user.is_active = bool(fields["enabled"])
            changed.append("is_active")
        if "default_project" in fields:
            user.default_project = fields["default_project"]
            changed.append("default_project")
        if "extra" in fields:  # Keystone's update merges extras; null removes one
            merged = {**(user.extra or {}), **fields["extra"]}
            user.extra = {k: v for k, v in merged.items() if v is not None}
            changed.append("extra")
        if fields.get("password") is not None:
            user.set_password(_password(fields["password"], user))
            changed.append("password")
            # A new password ends every API token issued with the old one.
            user.tokens.all().delete()
        if changed:
            user.save(update_fields=changed)
    return user


def change_own_password(request: HttpRequest, user: User, current, new) -> User:
    """A user changing their own password: the current one is required, and checked as a sign-in
    is (``authenticate``), so repeated wrong ones count as failed sign-ins and lock the user out
    from that address like the login form does. As with any new password, every token of the user
    ends (the revocation generation moves, so every process drops them from the next request on),
    and every browser session signed in with the old password ends at its next request (Django
    keeps a hash of the password in each session)."""
    if not isinstance(new, str) or not new:
        raise BadRequest("Invalid input for field 'password': a new password is required.")
    if not isinstance(current, str) or not current:
        raise BadRequest("Invalid input for field 'original_password': the current password is required.")
    checked = authenticate(request, username=user.username, password=current)
    if checked is None or checked.pk != user.pk:
        raise Unauthorized("The current password is not correct.")
    if current == new:
        raise BadRequest("Invalid password: the new password must differ from the current one.")
    return update_user(user, password=new)


def delete_user(user: User, acting: User) -> None:
    if user.pk == acting.pk:
        raise Conflict("You cannot delete yourself.")
    _not_service(user)
    user.delete()


# --- role assignments ---------------------------------------------------------------------------


def grant(user: User, project: Project, role: Role) -> RoleAssignment:
    with transaction.atomic():
        assignment, _ = RoleAssignment.objects.get_or_create(user=user, project=project, role=role)
    return assignment


def revoke(user: User, project: Project, role: Role) -> bool:
    """Remove the assignment; False when there was none. Without any role left on the project the
    user's tokens scoped to it no longer stand."""
    with transaction.atomic():
        deleted, _ = RoleAssignment.objects.filter(user=user, project=project, role=role).delete()
        if deleted and not RoleAssignment.objects.filter(user=user, project=project).exists():
            Token.objects.filter(user=user, project=project).delete()
    return bool(deleted)
