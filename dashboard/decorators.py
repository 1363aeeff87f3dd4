"""View guards: login, a current project, and a policy rule."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from dashboard.policy import can


def policy_required(rule: str, *, needs_project: bool = False, target: Callable[[Any], dict] | None = None):
    """Allow the view only when policy grants ``rule`` on the current project, or on what
    ``target(ctx)`` names (e.g. ``{"user_id": …}`` for what a user owns across projects)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if needs_project and request.ctx.project is None:
                raise PermissionDenied("You have no role on any project.")
            if not can(request.ctx, rule, target(request.ctx) if target else None):
                raise PermissionDenied(f"Policy doesn't allow {rule}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
