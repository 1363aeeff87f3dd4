"""Keystone v3 administration: create, update and delete projects and users, grant and revoke
roles, list role assignments (``openstack project create``, ``user create``, ``role add``,
``role assignment list``). The rules are in ``dashboard.identity.admin``; policy names and defaults
are Keystone's (admin only)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework.response import Response

from dashboard.api.urls import identity_url
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, Forbidden, NotFound
from dashboard.identity import admin, api
from dashboard.identity.domain import DOMAIN
from dashboard.models import Project, Role, RoleAssignment, User
from dashboard.policy import can


def _allow(ctx: RequestContext, rule: str) -> None:
    if not can(ctx, rule):
        raise Forbidden(f"You are not authorized to perform the requested action: {rule}.")


def _body(request, key: str) -> dict[str, Any]:
    data = request.data.get(key) if isinstance(request.data, dict) else None
    if not isinstance(data, dict):
        raise BadRequest(f"Invalid input for field '{key}': it must be an object.")
    return data


def _bool(data: dict, key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise BadRequest(f"Invalid input for field '{key}': {value!r} is not of type 'boolean'.")
    return value


def _project(project_id: str) -> Project:
    project = Project.objects.filter(id=project_id).first()
    if project is None:
        raise NotFound(f"Could not find project: {project_id}.")
    return project


def _user(user_id: str) -> User:
    user = User.objects.filter(id=user_id).first()
    if user is None:
        raise NotFound(f"Could not find user: {user_id}.")
    return user


def _role(role_id: str) -> Role:
    role = Role.objects.filter(id=role_id).first()
    if role is None:
        raise NotFound(f"Could not find role: {role_id}.")
    return role


def role_json(request, role: Role) -> dict:
    return {
        "id": role.id,
        "name": role.name,
        "domain_id": None,
        "description": None,
        "options": {},
        "links": {"self": f"{identity_url(request)}/v3/roles/{role.id}"},
    }


PROJECT_FIELDS = {"name", "description", "enabled", "domain_id", "parent_id", "is_domain", "tags", "options"}


def _project_fields(data: dict) -> dict:
    unknown = set(data) - PROJECT_FIELDS
    if unknown:
        raise BadRequest(
            f"Additional properties are not allowed ({', '.join(sorted(unknown))} were unexpected)."
        )
    admin.check_domain(data.get("domain_id"))
    admin.check_domain(data.get("parent_id"))
    if data.get("is_domain"):
        raise BadRequest("Stratus has one domain, 'Default'; a project cannot be a domain.")
    if data.get("tags"):
        raise BadRequest("Project tags are not supported.")
    fields = {k: data[k] for k in ("name", "description") if k in data}
    if "enabled" in data:
        fields["enabled"] = _bool(data, "enabled")
    return fields


class ProjectsView(api.ProjectsView):
    def post(self, request):
        _allow(request.auth, "identity:create_project")
        fields = _project_fields(_body(request, "project"))
        if "name" not in fields:
            raise BadRequest("Invalid input for field 'name': 'name' is a required property.")
        project = admin.create_project(**fields)
        return Response({"project": api.project_json(request, project)}, status=201)


class ProjectView(api.ProjectView):
    def patch(self, request, project_id: str):
        _allow(request.auth, "identity:update_project")
        project = admin.update_project(_project(project_id), **_project_fields(_body(request, "project")))
        return Response({"project": api.project_json(request, project)})

    def delete(self, request, project_id: str):
        ctx: RequestContext = request.auth
        _allow(ctx, "identity:delete_project")
        project = _project(project_id)
        if project.pk == ctx.project_id:
            raise BadRequest("You cannot delete the project your token is scoped to.")
        admin.delete_project(project)
        return HttpResponse(status=204)


USER_FIELDS = {
    "name",
    "password",
    "email",
    "enabled",
    "domain_id",
    "default_project_id",
    "options",
}


# Keystone's own fields of a user besides those above, which a request may not set as extras.
RESERVED_USER_FIELDS = {"id", "links", "password_expires_at", "federated"}


def _user_fields(data: dict) -> dict:
    """The known fields; any other attribute is kept as Keystone keeps it (its user schemas allow
    additional properties), for example the ``project_id`` some clients send."""
    reserved = set(data) & RESERVED_USER_FIELDS
    if reserved:
        raise BadRequest(f"Invalid input for field(s): {', '.join(sorted(reserved))} cannot be set.")
    admin.check_domain(data.get("domain_id"))
    fields: dict[str, Any] = {k: data[k] for k in ("name", "password", "email") if k in data}
    extra = {k: v for k, v in data.items() if k not in USER_FIELDS}
    if extra:
        fields["extra"] = extra
    if "enabled" in data:
        fields["enabled"] = _bool(data, "enabled")
    if "default_project_id" in data:
        ref = data["default_project_id"]
        fields["default_project"] = None if ref is None else _project(str(ref))
    return fields


class UsersView(api.UsersView):
    def post(self, request):
        _allow(request.auth, "identity:create_user")
        fields = _user_fields(_body(request, "user"))
        if "name" not in fields:
            raise BadRequest("Invalid input for field 'name': 'name' is a required property.")
        if "password" not in fields:
            raise BadRequest("Stratus users sign in with a password: 'password' is required.")
        user = admin.create_user(
            fields["name"],
            fields["password"],
            email=fields.get("email", ""),
            enabled=fields.get("enabled", True),
            default_project=fields.get("default_project"),
            extra=fields.get("extra"),
        )
        return Response({"user": api.user_json(request, user)}, status=201)


class UserView(api.UserView):
    def patch(self, request, user_id: str):
        _allow(request.auth, "identity:update_user")
        user = admin.update_user(_user(user_id), **_user_fields(_body(request, "user")))
        return Response({"user": api.user_json(request, user)})

    def delete(self, request, user_id: str):
        ctx: RequestContext = request.auth
        _allow(ctx, "identity:delete_user")
        admin.delete_user(_user(user_id), ctx.user)
        return HttpResponse(status=204)


class UserPasswordView(api.IdentityView):
    """POST /v3/users/{user_id}/password (``openstack user password set``): a user changes their
    own password, giving the current one; every token of the user ends, this one too."""

    def post(self, request, user_id: str):
        ctx: RequestContext = request.auth
        if ctx.user.pk != user_id:
            raise Forbidden("You can change only your own password.")
        data = _body(request, "user")
        admin.change_own_password(
            request._request, ctx.user, data.get("original_password"), data.get("password")
        )
        return HttpResponse(status=204)


class RoleView(api.IdentityView):
    def get(self, request, role_id: str):
        return Response({"role": role_json(request, _role(role_id))})


class DomainView(api.IdentityView):
    """GET /v3/domains/default (clients look their domain up by id or name)."""

    def get(self, request, domain_id: str):
        if domain_id not in (DOMAIN["id"], DOMAIN["name"]):
            raise NotFound(f"Could not find domain: {domain_id}. Stratus has one domain, 'Default'.")
        return Response({"domain": {**DOMAIN, "enabled": True, "description": "", "tags": [], "options": {}}})


class DomainsView(api.IdentityView):
    def get(self, request):
        name = request.query_params.get("name")
        found = [] if name not in (None, DOMAIN["name"]) else [DOMAIN]
        return Response({"domains": [{**d, "enabled": True, "description": ""} for d in found]})


def _no_assignment(role_id: str, user_id: str, project_id: str) -> str:
    return f"Could not find role assignment with role: {role_id}, user: {user_id}, project: {project_id}."


class GrantView(api.IdentityView):
    """PUT/HEAD/GET/DELETE /v3/projects/{p}/users/{u}/roles/{r}."""

    def _resolve(self, project_id: str, user_id: str, role_id: str):
        return _project(project_id), _user(user_id), _role(role_id)

    def put(self, request, project_id: str, user_id: str, role_id: str):
        _allow(request.auth, "identity:create_grant")
        project, user, role = self._resolve(project_id, user_id, role_id)
        admin.grant(user, project, role)
        return HttpResponse(status=204)

    def get(self, request, project_id: str, user_id: str, role_id: str):
        _allow(request.auth, "identity:check_grant")
        project, user, role = self._resolve(project_id, user_id, role_id)
        if not RoleAssignment.objects.filter(project=project, user=user, role=role).exists():
            raise NotFound(_no_assignment(role_id, user_id, project_id))
        return HttpResponse(status=204)

    head = get

    def delete(self, request, project_id: str, user_id: str, role_id: str):
        _allow(request.auth, "identity:revoke_grant")
        project, user, role = self._resolve(project_id, user_id, role_id)
        if not admin.revoke(user, project, role):
            raise NotFound(_no_assignment(role_id, user_id, project_id))
        return HttpResponse(status=204)


class UserProjectRolesView(api.IdentityView):
    """GET /v3/projects/{p}/users/{u}/roles: the roles a user holds on a project."""

    def get(self, request, project_id: str, user_id: str):
        _allow(request.auth, "identity:list_grants")
        project, user = _project(project_id), _user(user_id)
        roles = Role.objects.filter(assignments__project=project, assignments__user=user).distinct()
        return Response({"roles": [role_json(request, r) for r in roles]})


class RoleAssignmentsView(api.IdentityView):
    """GET /v3/role_assignments with Keystone's filters (user.id, scope.project.id, role.id) and
    include_names. Only project scopes and direct user assignments exist here."""

    def get(self, request):
        _allow(request.auth, "identity:list_role_assignments")
        params = request.query_params
        if params.get("scope.domain.id") or params.get("group.id") or params.get("scope.system"):
            return Response(
                {"role_assignments": [], "links": {"self": f"{identity_url(request)}/v3/role_assignments"}}
            )
        rows = RoleAssignment.objects.select_related("user", "project", "role").order_by(
            "user__username", "project__name", "role__name"
        )
        if params.get("user.id"):
            rows = rows.filter(user_id=params["user.id"])
        if params.get("scope.project.id"):
            rows = rows.filter(project_id=params["scope.project.id"])
        if params.get("role.id"):
            rows = rows.filter(role_id=params["role.id"])
        names = "include_names" in params and params["include_names"].lower() not in ("0", "false")
        base = identity_url(request)
        out = []
        for a in rows:
            user = {"id": a.user.id}
            project = {"id": a.project.id}
            role = {"id": a.role.id}
            if names:
                user.update(name=a.user.username, domain=DOMAIN)
                project.update(name=a.project.name, domain=DOMAIN)
                role.update(name=a.role.name)
            out.append(
                {
                    "user": user,
                    "scope": {"project": project},
                    "role": role,
                    "links": {
                        "assignment": f"{base}/v3/projects/{a.project.id}/users/{a.user.id}/roles/{a.role.id}"
                    },
                }
            )
        return Response({"role_assignments": out, "links": {"self": f"{base}/v3/role_assignments"}})
