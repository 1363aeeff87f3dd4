"""Nova's flavor API: flavors, os-flavor-access and os-extra_specs."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings
from django.db.models import Prefetch, Q
from rest_framework.response import Response

from dashboard.api.compute import ComputeView, compute_url
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize, can
from flavors import extra_specs, policies, services
from flavors.api import schemas
from flavors.models import Flavor, FlavorExtraSpec

# Nova's sort keys mapped to our fields.
SORT_KEYS = {
    "flavorid": "id",
    "id": "id",
    "name": "name",
    "memory_mb": "ram",
    "root_gb": "disk",
    "ephemeral_gb": "ephemeral",
    "swap": "swap",
    "vcpus": "vcpus",
    "rxtx_factor": "rxtx_factor",
    "is_public": "is_public",
    "disabled": "disabled",
    "description": "description",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


def flavor_links(request, flavor_id: str) -> list[dict]:
    base, fid = compute_url(request), quote(flavor_id, safe="")
    return [
        {"rel": "self", "href": f"{base}/v2.1/flavors/{fid}"},
        {"rel": "bookmark", "href": f"{base}/flavors/{fid}"},
    ]


def flavor_json(request, flavor: Flavor, *, detail: bool = True, specs: bool = False) -> dict:
    """A flavor in the shape of the request's microversion (2.1: no description or extra specs;
    2.55: description; 2.61: extra_specs when the caller may read them; 2.75: swap 0, not "")."""
    version = request.api_version
    out: dict = {"id": flavor.id, "name": flavor.name, "links": flavor_links(request, flavor.id)}
    if detail:
        out.update(
            {
                "ram": flavor.ram,
                "vcpus": flavor.vcpus,
                "disk": flavor.disk,
                "swap": flavor.swap if flavor.swap or version >= "2.75" else "",
                "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
                "OS-FLV-DISABLED:disabled": flavor.disabled,
                "os-flavor-access:is_public": flavor.is_public,
                "rxtx_factor": flavor.rxtx_factor,
            }
        )
    if version >= "2.55":
        out["description"] = flavor.description or None
    if detail and specs and version >= "2.61":
        out["extra_specs"] = flavor.spec_dict()
    return out


def access_json(entries) -> dict:
    return {"flavor_access": [{"flavor_id": a.flavor_id, "tenant_id": a.project_id} for a in entries]}


def may_read_specs(ctx: RequestContext) -> bool:
    return can(ctx, policies.SPECS_INDEX, {"project_id": ctx.project_id})


def get_visible(ctx: RequestContext, flavor_id: str) -> Flavor:
    """The flavor if the caller may see it; a private flavor without access is a 404."""
    flavor = Flavor.objects.visible_to(ctx).filter(pk=flavor_id).prefetch_related("extra_specs").first()
    if flavor is None:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return flavor


def _is_public_filter(ctx: RequestContext, raw: str | None):
    """Nova: only admins choose; absent means public only, ``None`` means all."""
    if not ctx.is_admin:
        return None
    if raw is None:
        return True
    if raw.strip().lower() == "none":
        return None
    try:
        return schemas.boolean("is_public", raw)
    except BadRequest as exc:
        raise BadRequest(f"Invalid is_public filter [{raw}]") from exc


def _int_param(params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"Invalid {name} filter [{raw}]") from exc
    if value < 0:
        raise BadRequest(f"Invalid {name} filter [{raw}]")
    return value


class FlavorListView(ComputeView):
    detail = False

    def get(self, request):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.FLAVOR_READ, {"project_id": ctx.project_id})
        params = request.query_params
        flavors = Flavor.objects.visible_to(ctx)
        if not ctx.is_admin:
            flavors = flavors.filter(disabled=False)
        else:
            is_public = _is_public_filter(ctx, params.get("is_public"))
            if is_public is True and ctx.project_id:
                # As Nova: "public" also takes in the private flavors shared with the caller's project.
                flavors = flavors.filter(Q(is_public=True) | Q(access__project_id=ctx.project_id)).distinct()
            elif is_public is not None:
                flavors = flavors.filter(is_public=is_public)
        min_ram, min_disk = _int_param(params, "minRam"), _int_param(params, "minDisk")
        if min_ram is not None:
            flavors = flavors.filter(ram__gte=min_ram)
        if min_disk is not None:
            flavors = flavors.filter(disk__gte=min_disk)

        sort_key = SORT_KEYS.get(params.get("sort_key", "flavorid"))
        if sort_key is None:
            raise BadRequest(f"Invalid sort_key [{params.get('sort_key')}]")
        sort_dir = params.get("sort_dir", "asc")
        if sort_dir not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort_dir [{sort_dir}]")
        prefix = "-" if sort_dir == "desc" else ""
        flavors = flavors.order_by(f"{prefix}{sort_key}", f"{prefix}id")

        max_limit = settings.COMPUTE_API_MAX_LIMIT
        limit = _int_param(params, "limit")
        limit = max_limit if limit is None else min(limit, max_limit)
        marker = params.get("marker")
        if marker is not None:
            anchor = Flavor.objects.visible_to(ctx).filter(pk=marker).values(sort_key, "id").first()
            if anchor is None:
                raise BadRequest(f"marker [{marker}] not found")
            op = "lt" if sort_dir == "desc" else "gt"
            flavors = flavors.filter(
                Q(**{f"{sort_key}__{op}": anchor[sort_key]})
                | Q(**{sort_key: anchor[sort_key], f"id__{op}": anchor["id"]})
            )
        specs = self.detail and request.api_version >= "2.61" and may_read_specs(ctx)
        if specs:
            flavors = flavors.prefetch_related(Prefetch("extra_specs", FlavorExtraSpec.objects.all()))
        page = list(flavors[:limit]) if limit else []
        body: dict = {"flavors": [flavor_json(request, f, detail=self.detail, specs=specs) for f in page]}
        if page and len(page) == limit:
            path = "flavors/detail" if self.detail else "flavors"
            query = {k: v for k, v in params.items() if k != "marker"}
            query.update(limit=limit, marker=page[-1].id)
            body["flavors_links"] = [
                {"rel": "next", "href": f"{compute_url(request)}/v2.1/{path}?{urlencode(query)}"}
            ]
        return Response(body)

    def post(self, request):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.FLAVOR_CREATE)
        fields = schemas.flavor_create(request.data, request.api_version)
        flavor = services.create_flavor(**fields)
        return Response({"flavor": flavor_json(request, flavor, specs=may_read_specs(ctx))})


class FlavorDetailListView(FlavorListView):
    detail = True
    http_method_names = ["get", "head", "options"]


class FlavorView(ComputeView):
    def get(self, request, flavor_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.FLAVOR_READ, {"project_id": ctx.project_id})
        flavor = get_visible(ctx, flavor_id)
        return Response({"flavor": flavor_json(request, flavor, specs=may_read_specs(ctx))})

    def put(self, request, flavor_id: str):
        if request.api_version < "2.55":
            raise NotFound("The resource could not be found.")
        ctx: RequestContext = request.auth
        authorize(ctx, policies.FLAVOR_UPDATE)
        description = schemas.flavor_update(request.data)
        flavor = services.update_description(get_visible(ctx, flavor_id), description)
        return Response({"flavor": flavor_json(request, flavor, specs=may_read_specs(ctx))})

    def delete(self, request, flavor_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.FLAVOR_DELETE)
        services.delete_flavors([get_visible(ctx, flavor_id)])
        return self.empty(202)


class FlavorActionView(ComputeView):
    """``POST /flavors/{id}/action`` with addTenantAccess or removeTenantAccess."""

    def post(self, request, flavor_id: str):
        ctx: RequestContext = request.auth
        body = request.data
        if isinstance(body, dict) and "addTenantAccess" in body:
            authorize(ctx, policies.ACCESS_ADD)
            flavor = get_visible(ctx, flavor_id)
            entries = services.add_access(flavor, schemas.tenant(body, "addTenantAccess"))
        elif isinstance(body, dict) and "removeTenantAccess" in body:
            authorize(ctx, policies.ACCESS_REMOVE)
            flavor = get_visible(ctx, flavor_id)
            entries = services.remove_access(flavor, schemas.tenant(body, "removeTenantAccess"))
        else:
            raise BadRequest(
                "There is no such action: the body must hold addTenantAccess or removeTenantAccess."
            )
        return Response(access_json(entries))


class FlavorAccessView(ComputeView):
    def get(self, request, flavor_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.ACCESS_LIST)
        return Response(access_json(services.access_list(get_visible(ctx, flavor_id))))


class ExtraSpecsView(ComputeView):
    def get(self, request, flavor_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.SPECS_INDEX, {"project_id": ctx.project_id})
        return Response({"extra_specs": get_visible(ctx, flavor_id).spec_dict()})

    def post(self, request, flavor_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.SPECS_CREATE)
        flavor = get_visible(ctx, flavor_id)
        body = request.data
        if not isinstance(body, dict) or set(body) != {"extra_specs"}:
            raise BadRequest(
                "Invalid input for field/attribute extra_specs. 'extra_specs' is a required property"
            )
        specs = extra_specs.normalise(body["extra_specs"], check_known=request.api_version >= "2.86")
        return Response({"extra_specs": services.set_extra_specs(flavor, specs)})


class ExtraSpecView(ComputeView):
    def get(self, request, flavor_id: str, key: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.SPECS_SHOW, {"project_id": ctx.project_id})
        specs = get_visible(ctx, flavor_id).spec_dict()
        if key not in specs:
            raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        return Response({key: specs[key]})

    def put(self, request, flavor_id: str, key: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.SPECS_UPDATE)
        flavor = get_visible(ctx, flavor_id)
        body = request.data
        if not isinstance(body, dict) or len(body) != 1:
            raise BadRequest(
                "Invalid input for field/attribute extra_specs. The body must hold exactly one key."
            )
        if key not in body:
            raise BadRequest("Request body and URI mismatch")
        specs = extra_specs.normalise(body, check_known=request.api_version >= "2.86")
        return Response(services.set_extra_specs(flavor, specs))

    def delete(self, request, flavor_id: str, key: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.SPECS_DELETE)
        services.delete_extra_spec(get_visible(ctx, flavor_id), key)
        return self.empty(200)
