"""Keystone v3 compatibility: version discovery, tokens, catalog, and the lookups clients make."""

from __future__ import annotations

import json
from datetime import UTC

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard import token_cache
from dashboard.api.urls import base_url, identity_url
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, Forbidden, NotFound, Unauthorized
from dashboard.identity import application_credentials
from dashboard.identity.catalog import catalog
from dashboard.identity.domain import DOMAIN
from dashboard.models import Project, Role, Token, User
from dashboard.policy import authorize, can

UPDATED = "2024-04-01T00:00:00Z"
UNAUTHORIZED = "The request you have made requires authentication."


def _isotime(dt) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def version_doc(request) -> dict:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{identity_url(request)}/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


class IdentityView(APIView):
    error_style = "keystone"


class VersionsView(IdentityView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(
            {"versions": {"values": [version_doc(request)]}}, status=status.HTTP_300_MULTIPLE_CHOICES
        )


class V3View(IdentityView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"version": version_doc(request)})


def project_json(request, project: Project) -> dict:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "enabled": project.enabled,
        "domain_id": DOMAIN["id"],
        "parent_id": DOMAIN["id"],
        "is_domain": False,
        "tags": [],
        "options": {},
        "links": {"self": f"{identity_url(request)}/v3/projects/{project.id}"},
    }


def user_json(request, user: User) -> dict:
    return {
        **(user.extra or {}),
        "id": user.id,
        "name": user.username,
        "email": user.email or None,
        "enabled": user.is_active,
        "domain_id": DOMAIN["id"],
        "default_project_id": user.default_project_id,
        "password_expires_at": None,
        "options": {},
        "links": {"self": f"{identity_url(request)}/v3/users/{user.id}"},
    }


def token_body(request, token: Token, ctx: RequestContext) -> dict:
    body = {
        "methods": token.methods,
        "expires_at": _isotime(token.expires_at),
        "issued_at": _isotime(token.issued_at),
        "audit_ids": [token.audit_id],
        "user": {
            "id": token.user.id,
            "name": token.user.username,
            "domain": DOMAIN,
            "password_expires_at": None,
        },
    }
    if token.project is not None:
        roles = {r.name: r.id for r in Role.objects.filter(name__in=ctx.roles)}
        body.update(
            project={"id": token.project.id, "name": token.project.name, "domain": DOMAIN},
            is_domain=False,
            roles=[{"id": rid, "name": name} for name, rid in sorted(roles.items())],
            catalog=catalog(request, token.project.id),
        )
    cred = token.application_credential
    if cred is not None:
        body["application_credential"] = {
            "id": cred.id,
            "name": cred.name,
            "restricted": not cred.unrestricted,
        }
    return {"token": body}


def _parse_auth(request) -> dict:
    """The ``auth`` object of a token request, or a 400 naming what is wrong."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"Malformed request body: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("auth"), dict):
        raise BadRequest("Expecting to find auth in request body.")
    auth = body["auth"]
    identity = auth.get("identity")
    if (
        not isinstance(identity, dict)
        or not isinstance(identity.get("methods"), list)
        or not identity["methods"]
    ):
        raise BadRequest("Expecting to find identity with a list of methods in auth.")
    return auth


def _check_domain(ref) -> None:
    if ref is None:
        return
    if not isinstance(ref, dict) or not (
        ref.get("id") in (None, DOMAIN["id"]) and ref.get("name") in (None, DOMAIN["name"])
    ):
        raise Unauthorized(UNAUTHORIZED)


def _password_user(request, identity: dict) -> User:
    password = identity.get("password")
    if not isinstance(password, dict) or not isinstance(password.get("user"), dict):
        raise BadRequest("Expecting to find user in password.")
    ref = password["user"]
    secret = ref.get("password")
    if not isinstance(secret, str):
        raise BadRequest("Expecting to find password in user.")
    username = ref.get("name")
    if username is None and isinstance(ref.get("id"), str):
        username = User.objects.filter(id=ref["id"]).values_list("username", flat=True).first()
    if not isinstance(username, str):
        raise Unauthorized(UNAUTHORIZED)
    if "name" in ref:
        _check_domain(ref.get("domain"))
    user = authenticate(request._request, username=username, password=secret)
    if user is None:
        raise Unauthorized(UNAUTHORIZED)
    return user


def _resolve_scope(user: User, scope) -> Project | None:
    if scope is None or scope == "unscoped":
        return None
    if not isinstance(scope, dict):
        raise BadRequest("scope must be an object.")
    ref = scope.get("project")
    if ref is None:
        # Domain and system scopes do not exist here.
        raise Unauthorized(UNAUTHORIZED)
    if not isinstance(ref, dict):
        raise BadRequest("scope.project must be an object.")
    projects = Project.objects.filter(enabled=True)
    if isinstance(ref.get("id"), str):
        project = projects.filter(id=ref["id"]).first()
    elif isinstance(ref.get("name"), str):
        _check_domain(ref.get("domain"))
        project = projects.filter(name__iexact=ref["name"]).first()
    else:
        raise BadRequest("scope.project needs an id or a name.")
    if project is None or not user.assignments.filter(project=project).exists():
        raise Unauthorized(UNAUTHORIZED)
    return project


class TokensView(IdentityView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        auth = _parse_auth(request)
        identity = auth["identity"]
        methods = identity["methods"]
        expires_at = None
        cred = None
        if "application_credential" in methods:
            cred = application_credentials.authenticate(identity.get("application_credential"))
            user, methods = cred.user, ["application_credential"]
            expires_at = application_credentials.token_expiry(
                cred, timezone.now() + settings.TOKEN_EXPIRATION
            )
        elif "password" in methods:
            user = _password_user(request, identity)
            methods = ["password"]
        elif "token" in methods:
            ref = identity.get("token")
            raw = ref.get("id") if isinstance(ref, dict) else None
            original = token_cache.context_for(raw) if isinstance(raw, str) else None
            if original is None:
                raise Unauthorized(UNAUTHORIZED)
            user, expires_at = original.user, original.token.expires_at
            cred = original.token.application_credential
            methods = list(dict.fromkeys([*original.token.methods, "token"]))
        else:
            raise Unauthorized(f"Unsupported authentication method(s): {', '.join(map(str, methods))}.")
        scope = auth.get("scope")
        if cred is not None:
            # A credential's tokens are scoped to its project, whatever the request asks.
            if scope not in (None, "unscoped") and _resolve_scope(user, scope) != cred.project:
                raise Unauthorized(UNAUTHORIZED)
            scope = {"project": {"id": cred.project_id}}
        elif (
            scope is None
            and user.default_project_id
            and user.assignments.filter(project_id=user.default_project_id, project__enabled=True).exists()
        ):
            scope = {"project": {"id": user.default_project_id}}
        project = _resolve_scope(user, scope)
        raw, token = Token.issue(user, project, methods, expires_at=expires_at, application_credential=cred)
        ctx = RequestContext.for_user(user, project, token)
        return Response(token_body(request, token, ctx), status=201, headers={"X-Subject-Token": raw})

    def _subject(self, request) -> tuple[Token, RequestContext]:
        # Both tokens must stand as any API token does (live, enabled user and project, a role).
        caller = token_cache.context_for(request.META.get("HTTP_X_AUTH_TOKEN"))
        if caller is None:
            raise Unauthorized(UNAUTHORIZED)
        subject = token_cache.context_for(request.META.get("HTTP_X_SUBJECT_TOKEN"))
        if subject is None:
            raise NotFound("Could not find token.")
        if subject.user.pk != caller.user.pk and not caller.is_admin:
            raise Forbidden("You are not authorized to perform the requested action.")
        return subject.token, subject

    def get(self, request):
        subject, ctx = self._subject(request)
        return Response(
            token_body(request, subject, ctx),
            headers={"X-Subject-Token": request.META["HTTP_X_SUBJECT_TOKEN"]},
        )

    def head(self, request):
        self._subject(request)
        return HttpResponse(status=200)

    def delete(self, request):
        subject, _ = self._subject(request)
        subject.delete()
        return HttpResponse(status=204)


class CatalogView(IdentityView):
    def get(self, request):
        ctx: RequestContext = request.auth
        if ctx.project is None:
            raise Forbidden("A project-scoped token is required for the catalog.")
        return Response(
            {
                "catalog": catalog(request, ctx.project_id),
                "links": {"self": f"{identity_url(request)}/v3/auth/catalog"},
            }
        )


class AuthProjectsView(IdentityView):
    def get(self, request):
        projects = request.auth.user.projects()
        return Response(
            {
                "projects": [project_json(request, p) for p in projects],
                "links": {"self": f"{identity_url(request)}/v3/auth/projects"},
            }
        )


class ProjectsView(IdentityView):
    def get(self, request):
        ctx: RequestContext = request.auth
        if can(ctx, "identity:list_projects"):
            projects = Project.objects.all()
        else:
            projects = ctx.user.projects()
        if "name" in request.query_params:
            projects = projects.filter(name__iexact=request.query_params["name"])
        if "enabled" in request.query_params:
            projects = projects.filter(enabled=request.query_params["enabled"].lower() in ("true", "1"))
        return Response(
            {
                "projects": [project_json(request, p) for p in projects],
                "links": {"self": f"{base_url(request)}/identity/v3/projects"},
            }
        )


class ProjectView(IdentityView):
    def get(self, request, project_id: str):
        ctx: RequestContext = request.auth
        project = Project.objects.filter(id=project_id).first()
        if project is None or not (ctx.is_admin or ctx.user.assignments.filter(project=project).exists()):
            raise NotFound(f"Could not find project: {project_id}.")
        return Response({"project": project_json(request, project)})


class UsersView(IdentityView):
    def get(self, request):
        ctx: RequestContext = request.auth
        authorize(ctx, "identity:list_users")
        users = User.objects.all()
        if "name" in request.query_params:
            users = users.filter(username=request.query_params["name"])
        return Response(
            {
                "users": [user_json(request, u) for u in users],
                "links": {"self": f"{identity_url(request)}/v3/users"},
            }
        )


class UserView(IdentityView):
    def get(self, request, user_id: str):
        ctx: RequestContext = request.auth
        user = User.objects.filter(id=user_id).first()
        if user is None or not (ctx.is_admin or user.id == ctx.user.id):
            raise NotFound(f"Could not find user: {user_id}.")
        return Response({"user": user_json(request, user)})


class UserProjectsView(IdentityView):
    def get(self, request, user_id: str):
        ctx: RequestContext = request.auth
        if user_id != ctx.user.id and not ctx.is_admin:
            raise Forbidden("You are not authorized to perform the requested action.")
        user = get_object_or_404(User, id=user_id)
        return Response({"projects": [project_json(request, p) for p in user.projects()]})


class RolesView(IdentityView):
    def get(self, request):
        roles = Role.objects.all()
        if "name" in request.query_params:
            roles = roles.filter(name=request.query_params["name"])
        return Response({"roles": [{"id": r.id, "name": r.name, "domain_id": None} for r in roles]})
