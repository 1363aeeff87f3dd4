"""Application credentials, as Keystone keeps them: a user's credential for scripts, bound to the
project it was made in, with a subset of the user's roles there, an optional expiry, and a secret
that is returned once and stored only as a salted hash.

The Keystone v3 API and the API Access panel both go through these functions. A credential
authenticates by id, or by name and its user, with the ``application_credential`` method of
``POST /v3/auth/tokens``; the tokens it gets end when it is deleted (they cascade, and the token
cache listens to token deletions), carry only the credential's roles, and never outlive it.
A *restricted* credential (the default) cannot be used to create or delete application credentials.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from dashboard.models import (
    ApplicationCredential,
    Project,
    Role,
    RoleAssignment,
    Token,
    User,
    effective_roles,
)

UNAUTHORIZED = "The request you have made requires authentication."
MAX_NAME = 255


def parse_expiry(value) -> datetime | None:
    """``expires_at`` as clients send it (ISO 8601, naive meaning UTC), or None for never."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = parse_datetime(value.strip().replace(" ", "T"))
        except ValueError:
            moment = None
        if moment is None:
            raise BadRequest(f"Invalid expires_at {value!r}: expected an ISO 8601 date and time.")
    else:
        raise BadRequest("expires_at must be a string.")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    if moment <= timezone.now():
        raise BadRequest("expires_at must be in the future.")
    return moment


def assigned_roles(user: User, project: Project) -> list[Role]:
    """The roles the user holds on the project, with the roles they imply."""
    names = effective_roles(
        RoleAssignment.objects.filter(user=user, project=project).values_list("role__name", flat=True)
    )
    return list(Role.objects.filter(name__in=names))


def _pick_roles(ctx: RequestContext, refs) -> list[Role]:
    """The roles asked for (by id or name), each one the caller holds on the project; all of the
    caller's roles when none are named, as Keystone does."""
    held = {r.id: r for r in Role.objects.filter(name__in=ctx.roles)}
    if refs in (None, []):
        return list(held.values())
    if not isinstance(refs, list):
        raise BadRequest("roles must be a list of objects with an id or a name.")
    by_name = {r.name: r for r in held.values()}
    picked: dict[str, Role] = {}
    for ref in refs:
        if not isinstance(ref, dict) or not ({"id", "name"} & ref.keys()):
            raise BadRequest("roles must be a list of objects with an id or a name.")
        role = held.get(ref.get("id")) if "id" in ref else by_name.get(ref.get("name"))
        if role is None:
            wanted = ref.get("id") or ref.get("name")
            raise Forbidden(
                f"You cannot grant role {wanted!r}: you do not hold it on project {ctx.project.name!r}."
            )
        picked[role.id] = role
    return list(picked.values())


def check_can_manage(ctx: RequestContext) -> None:
    """A token of a restricted application credential may not make or remove credentials."""
    cred = ctx.token.application_credential if ctx.token is not None else None
    if cred is not None and not cred.unrestricted:
        raise Forbidden(
            "Using method 'application_credential' is not allowed for managing additional "
            "application credentials."
        )


def create(
    ctx: RequestContext,
    name,
    *,
    description: str = "",
    expires_at=None,
    roles=None,
    unrestricted: bool = False,
    secret: str | None = None,
) -> tuple[ApplicationCredential, str]:
    """A new credential of the caller on the caller's current project; returns it and its secret."""
    if ctx.project is None:
        raise Forbidden("An application credential is made in a project: use a project-scoped token.")
    check_can_manage(ctx)
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise BadRequest(f"Invalid name: a non-empty string of at most {MAX_NAME} characters.")
    if not isinstance(description, str | None) or len(description or "") > 1024:
        raise BadRequest("Invalid description: a string of at most 1024 characters.")
    if not isinstance(unrestricted, bool):
        raise BadRequest("unrestricted must be true or false.")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise BadRequest("secret must be a non-empty string.")
    moment = parse_expiry(expires_at)
    picked = _pick_roles(ctx, roles)
    if not picked:
        raise Forbidden(f"You hold no role on project {ctx.project.name!r} to give the credential.")
    secret = secret or secrets.token_urlsafe(48)
    try:
        with transaction.atomic():
            cred = ApplicationCredential.objects.create(
                user=ctx.user,
                project=ctx.project,
                name=name.strip(),
                description=description or "",
                secret_hash=make_password(secret),
                unrestricted=unrestricted,
                expires_at=moment,
            )
            cred.roles.set(picked)
    except IntegrityError as exc:
        raise Conflict(f"An application credential named {name.strip()!r} already exists.") from exc
    return cred, secret


def owned_by(user_id: str):
    return (
        ApplicationCredential.objects.filter(user_id=user_id)
        .select_related("project")
        .prefetch_related("roles")
    )


def get(user_id: str, cred_id: str) -> ApplicationCredential:
    cred = owned_by(user_id).filter(id=cred_id).first()
    if cred is None:
        raise NotFound(f"Could not find Application Credential: {cred_id}.")
    return cred


def delete(ctx: RequestContext, cred: ApplicationCredential) -> None:
    """Delete the credential; its tokens go with it and stop working from the next request on."""
    check_can_manage(ctx)
    with transaction.atomic():
        # Token rows are deleted one by one (not a fast delete) so that the cache hears of them.
        for token in Token.objects.filter(application_credential=cred):
            token.delete()
        cred.delete()


def _find_user(ref) -> User | None:
    if not isinstance(ref, dict):
        raise BadRequest("application_credential.user must be an object with an id or a name.")
    users = User.objects.filter(is_active=True)
    if isinstance(ref.get("id"), str):
        return users.filter(id=ref["id"]).first()
    if isinstance(ref.get("name"), str):
        return users.filter(username=ref["name"]).first()
    raise BadRequest("application_credential.user needs an id or a name.")


def authenticate(ref) -> ApplicationCredential:
    """The live credential that the ``application_credential`` auth method names, or a 401."""
    if not isinstance(ref, dict) or not isinstance(ref.get("secret"), str):
        raise BadRequest("Expecting to find secret in application_credential.")
    creds = ApplicationCredential.objects.select_related("user", "project")
    if isinstance(ref.get("id"), str):
        cred = creds.filter(id=ref["id"]).first()
    elif isinstance(ref.get("name"), str):
        user = _find_user(ref.get("user"))
        cred = creds.filter(user=user, name=ref["name"]).first() if user else None
    else:
        raise BadRequest("application_credential needs an id, or a name and a user.")
    if cred is None or not check_password(ref["secret"], cred.secret_hash):
        raise Unauthorized(UNAUTHORIZED)
    if cred.expired() or not cred.user.is_active or not cred.project.enabled:
        raise Unauthorized(UNAUTHORIZED)
    held = {r.name for r in assigned_roles(cred.user, cred.project)}
    if not set(cred.roles.values_list("name", flat=True)) <= held:
        # The user lost a role the credential carries: it no longer stands, as in Keystone.
        raise Unauthorized(UNAUTHORIZED)
    return cred


def token_expiry(cred: ApplicationCredential, default: datetime) -> datetime:
    """A credential's token never outlives the credential."""
    return min(default, cred.expires_at) if cred.expires_at else default
