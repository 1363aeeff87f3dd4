"""API authentication: X-Auth-Token for clients, the session (with CSRF) for the browser."""

from __future__ import annotations

from rest_framework import authentication, exceptions, permissions

from dashboard import token_cache
from dashboard.api.urls import identity_url
from dashboard.context import RequestContext


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = request.META.get("HTTP_X_AUTH_TOKEN")
        if raw is None:
            return None
        ctx = token_cache.context_for(raw)
        if ctx is None:
            raise exceptions.AuthenticationFailed("The request you have made requires authentication.")
        return ctx.user, ctx

    def authenticate_header(self, request) -> str:
        return f'Keystone uri="{identity_url(request)}"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The dashboard's own calls: the logged-in session and its current project, CSRF enforced."""

    def authenticate(self, request):
        user = getattr(request._request, "user", None)
        if not user or not user.is_active:
            return None
        self.enforce_csrf(request)
        return user, request._request.ctx


class IsAuthenticatedContext(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, RequestContext)
