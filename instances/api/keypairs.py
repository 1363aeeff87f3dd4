"""Nova's os-keypairs: ``GET``/``POST /os-keypairs``, ``GET``/``DELETE /os-keypairs/{name}``.

Microversions: 2.2 adds ``type`` (ssh|x509) and answers 201 to a create and 204 to a delete (200 and
202 before); 2.10 lets an administrator act on another user's key pairs with ``user_id``; 2.35 pages
the list with ``limit`` and ``marker`` (a key pair's name); 2.92 requires ``public_key`` (the server
no longer generates pairs) and allows ``@`` and ``.`` in names.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from rest_framework.response import Response

from dashboard.api import schemas
from dashboard.api.compute import ComputeView, compute_url
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest
from dashboard.models import User
from dashboard.policy import authorize
from instances import policies
from instances.models import KeyPair, KeyPairType
from instances.services import keypairs

_NAME_CHARS = keypairs.NAME_CHARS_BEFORE_292
_NAME_CHARS_292 = keypairs.NAME_CHARS
_TYPES = [KeyPairType.SSH.value, KeyPairType.X509.value]


def keypair_json(request, keypair: KeyPair, *, detail: bool = False) -> dict:
    out: dict = {"name": keypair.name, "public_key": keypair.public_key, "fingerprint": keypair.fingerprint}
    if request.api_version >= "2.2":
        out["type"] = keypair.type
    if detail:
        out.update(
            user_id=keypair.user_id,
            id=keypair.pk,
            created_at=keypair.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            updated_at=None,
            deleted=False,
            deleted_at=None,
        )
    return out


def target_user_id(request, user_id: object | None) -> str:
    """Whose key pairs the request is about: the caller's own, or (2.10+) ``user_id``'s. The policy
    check on the target lets only administrators name another user."""
    ctx: RequestContext = request.auth
    if user_id is None or request.api_version < "2.10":
        return ctx.user.pk
    if not isinstance(user_id, str) or not user_id:
        raise schemas.invalid("user_id", user_id, f"{user_id!r} is not a non-empty string")
    return user_id


def _create_body(request) -> dict:
    version = request.api_version
    body = schemas.required_object(request.data, "keypair")
    allowed = {"name", "public_key"}
    if version >= "2.2":
        allowed.add("type")
    if version >= "2.10":
        allowed.add("user_id")
    unexpected = sorted(set(body) - allowed)
    if unexpected:
        names = ", ".join(repr(key) for key in unexpected)
        raise BadRequest(
            f"Invalid input for field/attribute keypair. Value: {body}. Additional properties are not "
            f"allowed ({names} {'was' if len(unexpected) == 1 else 'were'} unexpected)"
        )
    name = schemas.resource_name(body)
    if not set(name) <= (_NAME_CHARS_292 if version >= "2.92" else _NAME_CHARS):
        raise schemas.invalid("name", name, "Keypair name contains unsafe characters")
    if "public_key" in body and not isinstance(body["public_key"], str):
        raise schemas.invalid("public_key", body["public_key"], f"{body['public_key']!r} is not a string")
    if version >= "2.92" and "public_key" not in body:
        raise BadRequest("Invalid input for field/attribute keypair. 'public_key' is a required property")
    key_type = body.get("type", KeyPairType.SSH.value)
    if key_type not in _TYPES:
        raise schemas.invalid("type", key_type, f"{key_type!r} is not one of {_TYPES}")
    return {**body, "name": name, "type": key_type}


def _owner(user_id: str) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise BadRequest(f"User {user_id} could not be found.")
    return user


class KeyPairListView(ComputeView):
    def get(self, request):
        ctx: RequestContext = request.auth
        params = request.query_params
        user_id = target_user_id(request, params.get("user_id"))
        authorize(ctx, policies.KEYPAIRS_INDEX, {"user_id": user_id})
        rows = KeyPair.objects.filter(user_id=user_id).order_by("pk")
        limit = None
        if request.api_version >= "2.35":
            limit = self._limit(params.get("limit"))
            marker = params.get("marker")
            if marker is not None:
                anchor = rows.filter(name=marker).values_list("pk", flat=True).first()
                if anchor is None:
                    raise BadRequest(f"marker [{marker}] not found")
                rows = rows.filter(pk__gt=anchor)
            rows = rows[:limit]
        page = list(rows)
        body: dict = {"keypairs": [{"keypair": keypair_json(request, k)} for k in page]}
        if limit and len(page) == limit:
            query = {k: v for k, v in params.items() if k != "marker"}
            query.update(limit=limit, marker=page[-1].name)
            body["keypairs_links"] = [
                {"rel": "next", "href": f"{compute_url(request)}/v2.1/os-keypairs?{urlencode(query)}"}
            ]
        return Response(body)

    @staticmethod
    def _limit(value: str | None) -> int:
        max_limit = settings.COMPUTE_API_MAX_LIMIT
        if value is None:
            return max_limit
        if not value.isdigit():
            raise schemas.invalid("limit", value, f"{value!r} is not a non-negative integer")
        return min(int(value), max_limit)

    def post(self, request):
        ctx: RequestContext = request.auth
        data = _create_body(request)
        user_id = target_user_id(request, data.get("user_id"))
        authorize(ctx, policies.KEYPAIRS_CREATE, {"user_id": user_id})
        owner = ctx.user if user_id == ctx.user.pk else _owner(user_id)
        private_key = None
        if "public_key" in data:
            keypair = keypairs.import_keypair(
                owner, data["name"], data["public_key"], data["type"], project_id=ctx.project_id
            )
        else:
            generated = keypairs.create_keypair(owner, data["name"], data["type"], project_id=ctx.project_id)
            keypair, private_key = generated.keypair, generated.private_key
        out = keypair_json(request, keypair)
        out["user_id"] = keypair.user_id
        if private_key is not None:
            out["private_key"] = private_key
        return Response({"keypair": out}, status=201 if request.api_version >= "2.2" else 200)


class KeyPairView(ComputeView):
    def get(self, request, name: str):
        ctx: RequestContext = request.auth
        user_id = target_user_id(request, request.query_params.get("user_id"))
        authorize(ctx, policies.KEYPAIRS_SHOW, {"user_id": user_id})
        return Response({"keypair": keypair_json(request, keypairs.get_keypair(user_id, name), detail=True)})

    def delete(self, request, name: str):
        ctx: RequestContext = request.auth
        user_id = target_user_id(request, request.query_params.get("user_id"))
        authorize(ctx, policies.KEYPAIRS_DELETE, {"user_id": user_id})
        keypairs.delete_keypair(user_id, name)
        return self.empty(204 if request.api_version >= "2.2" else 202)
