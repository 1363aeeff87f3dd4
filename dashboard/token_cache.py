"""Validated API tokens, kept per process, and the revocation generation that retires them.

Validating a token from the database (the token with its user and project, then the user's roles
on the project) costs more than most API calls spend on their own work. So each process keeps the
contexts it has validated, tagged with the revocation generation it read *before* validating.

Every change that can end or alter a token's standing writes a new random generation: a token
revoked or deleted, a user changed or deleted (disabled, new password), a project changed or
deleted, a role assignment or role added or removed. Each request reads the current generation (one
single-row read by primary key) and trusts only entries made under it, so a revoked token is
refused on the very next request, in every process, as it was without the cache.

Without the generation row (a flushed database) nothing is kept and every request validates.
The generation is written from model signals, so those changes go through save() and delete():
a bulk QuerySet.update() of users, projects, roles, assignments or tokens would not retire them.
"""

from __future__ import annotations

import copy
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, router
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from dashboard.context import RequestContext
from dashboard.models import Project, RevocationGeneration, Role, RoleAssignment, Token, User

MAX_ENTRIES = 10_000
SINGLETON = 1


@dataclass(frozen=True)
class _Entry:
    generation: int
    expires_at: datetime
    context: RequestContext


_entries: dict[str, _Entry] = {}
_lock = threading.Lock()


def current_generation() -> int | None:
    """The generation now committed, or None when the row is missing."""
    db = router.db_for_read(RevocationGeneration)
    connection = connections[db]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('value')} FROM {quote(RevocationGeneration._meta.db_table)} "
            f"WHERE {quote('id')} = %s",
            [SINGLETON],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def retire_all(**_signal) -> None:
    """Write a new generation: every kept token is validated again on its next use."""
    value = secrets.randbits(62)
    if not RevocationGeneration.objects.filter(pk=SINGLETON).update(value=value):
        RevocationGeneration.objects.update_or_create(pk=SINGLETON, defaults={"value": value})


def _user_saved(sender, instance, update_fields=None, **_signal) -> None:
    # A login stamps last_login on every sign-in; that changes nothing a token stands on.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    retire_all()


def _token_deleted(sender, instance, **_signal) -> None:
    # The expired-token sweep deletes thousands at a time; an expired token is refused anyway.
    if instance.expires_at > timezone.now():
        retire_all()


def connect_signals() -> None:
    post_save.connect(_user_saved, sender=User, dispatch_uid="token-cache-user-saved")
    post_delete.connect(_token_deleted, sender=Token, dispatch_uid="token-cache-token-deleted")
    for model in (User, Project, Role, RoleAssignment):
        post_delete.connect(retire_all, sender=model, dispatch_uid=f"token-cache-{model.__name__}-deleted")
    for model in (Project, Role, RoleAssignment):
        post_save.connect(retire_all, sender=model, dispatch_uid=f"token-cache-{model.__name__}-saved")


def _copy(ctx: RequestContext) -> RequestContext:
    """A context of its own for each request: model instances are mutable, entries are shared."""
    return RequestContext(
        user=copy.copy(ctx.user),
        project=copy.copy(ctx.project),
        roles=ctx.roles,
        token=copy.copy(ctx.token),
    )


def _validate(raw: str) -> RequestContext | None:
    token = Token.lookup(raw)
    if token is None:
        return None
    project = token.project
    if project is not None and not project.enabled:
        return None
    ctx = RequestContext.for_user(token.user, project, token)
    if project is not None and not ctx.roles:
        # The user lost every role on the token's project: the token no longer stands.
        return None
    return ctx


def _keep(digest: str, entry: _Entry) -> None:
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            # Drop the oldest tenth: tokens are issued and used in waves, the oldest are done.
            for key in list(_entries)[: MAX_ENTRIES // 10]:
                _entries.pop(key, None)
        _entries[digest] = entry


def context_for(raw: str | None) -> RequestContext | None:
    """The request context a raw X-Auth-Token stands for, or None when it does not stand."""
    if not raw or len(raw) > 512:
        return None
    digest = Token.digest(raw)
    generation = current_generation()
    entry = _entries.get(digest)
    if entry is not None and entry.generation == generation and entry.expires_at > timezone.now():
        return _copy(entry.context)
    ctx = _validate(raw)
    if ctx is None:
        _entries.pop(digest, None)
        return None
    if generation is not None:
        _keep(digest, _Entry(generation, ctx.token.expires_at, _copy(ctx)))
    return ctx
