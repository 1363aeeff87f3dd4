"""Keystone v3 application credentials: /v3/users/{user_id}/application_credentials[/{id}]."""

from __future__ import annotations

import json

from django.http import HttpResponse
from rest_framework.response import Response

from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.identity import application_credentials as creds
from dashboard.identity.api import IdentityView, _isotime
from dashboard.models import ApplicationCredential
from dashboard.policy import authorize, can

FIELDS = {"name", "description", "expires_at", "roles", "unrestricted", "secret", "access_rules"}


def credential_json(request, cred: ApplicationCredential, secret: str | None = None) -> dict:
    body = {
        "id": cred.id,
        "name": cred.name,
        "description": cred.description or None,
        "user_id": cred.user_id,
        "project_id": cred.project_id,
        "expires_at": _isotime(cred.expires_at) if cred.expires_at else None,
        "unrestricted": cred.unrestricted,
        "roles": [{"id": r.id, "name": r.name, "domain_id": None} for r in cred.roles.all()],
        "access_rules": [],
        "links": {"self": request.build_absolute_uri(f"{request.path.rstrip('/')}")},
    }
    if secret is not None:
        body["secret"] = secret
    return body


def _authorize(ctx: RequestContext, action: str, user_id: str) -> None:
    """Keystone's policy check; a caller who may not see another user's credentials gets a 404
    for them rather than a hint that the user exists."""
    rule = f"identity:{action}"
    if not can(ctx, rule, {"user_id": user_id}):
        if user_id != ctx.user.id:
            raise NotFound(f"Could not find user: {user_id}.")
        authorize(ctx, rule, {"user_id": user_id})


class CredentialsView(IdentityView):
    def get(self, request, user_id: str):
        ctx: RequestContext = request.auth
        _authorize(ctx, "list_application_credentials", user_id)
        rows = creds.owned_by(user_id)
        if "name" in request.query_params:
            rows = rows.filter(name=request.query_params["name"])
        base = request.build_absolute_uri(request.path.rstrip("/"))
        return Response(
            {
                "application_credentials": [
                    {**credential_json(request, c), "links": {"self": f"{base}/{c.id}"}} for c in rows
                ],
                "links": {"self": base, "previous": None, "next": None},
            }
        )

    def post(self, request, user_id: str):
        ctx: RequestContext = request.auth
        _authorize(ctx, "create_application_credential", user_id)
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"Malformed request body: {exc}") from exc
        ref = body.get("application_credential") if isinstance(body, dict) else None
        if not isinstance(ref, dict):
            raise BadRequest("Expecting to find application_credential in request body.")
        unknown = sorted(set(ref) - FIELDS)
        if unknown:
            raise BadRequest(f"Unknown field(s) in application_credential: {', '.join(unknown)}.")
        if ref.get("access_rules"):
            raise BadRequest("Access rules are not supported: leave access_rules out.")
        cred, secret = creds.create(
            ctx,
            ref.get("name"),
            description=ref.get("description") or "",
            expires_at=ref.get("expires_at"),
            roles=ref.get("roles"),
            unrestricted=ref.get("unrestricted", False),
            secret=ref.get("secret"),
        )
        cred = creds.get(user_id, cred.id)
        body = credential_json(request, cred, secret)
        body["links"]["self"] = f"{body['links']['self']}/{cred.id}"
        return Response({"application_credential": body}, status=201)


class CredentialView(IdentityView):
    def get(self, request, user_id: str, credential_id: str):
        ctx: RequestContext = request.auth
        _authorize(ctx, "get_application_credential", user_id)
        cred = creds.get(user_id, credential_id)
        return Response({"application_credential": credential_json(request, cred)})

    def delete(self, request, user_id: str, credential_id: str):
        ctx: RequestContext = request.auth
        _authorize(ctx, "delete_application_credential", user_id)
        creds.delete(ctx, creds.get(user_id, credential_id))
        return HttpResponse(status=204)
