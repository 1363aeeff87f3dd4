"""The Admin → Flavors panel and the flavors a project may launch with."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard import metadata_catalog
from dashboard.decorators import policy_required
from dashboard.exceptions import BadRequest, Conflict
from dashboard.policy import can
from flavors import extra_specs, policies, services
from flavors.forms import ExtraSpecsForm, FlavorAccessForm, FlavorInfoForm
from flavors.models import Flavor
from flavors.usage import flavor_usage


@policy_required(policies.FLAVOR_CREATE)
def flavor_list(request: HttpRequest) -> HttpResponse:
    flavors = Flavor.objects.with_instance_count().prefetch_related("extra_specs", "access__project")
    query = request.GET.get("q", "").strip()
    if query:
        flavors = flavors.filter(name__icontains=query)
    ctx = request.ctx
    allowed = {
        "create": can(ctx, policies.FLAVOR_CREATE),
        "delete": can(ctx, policies.FLAVOR_DELETE),
        "access": can(ctx, policies.ACCESS_ADD) and can(ctx, policies.ACCESS_REMOVE),
        "metadata": can(ctx, policies.SPECS_CREATE) and can(ctx, policies.SPECS_DELETE),
    }
    return render(request, "flavors/list.html", {"flavors": flavors, "query": query, "allowed": allowed})


@policy_required(policies.FLAVOR_CREATE)
def flavor_create(request: HttpRequest) -> HttpResponse:
    info = FlavorInfoForm(request.POST or None)
    access = FlavorAccessForm(request.POST or None)
    if request.method == "POST" and info.is_valid() and access.is_valid():
        data = info.cleaned_data
        try:
            flavor = services.create_flavor(
                name=data["name"],
                flavor_id=data["flavor_id"],
                vcpus=data["vcpus"],
                ram=data["ram"],
                disk=data["disk"],
                ephemeral=data["ephemeral"],
                swap=data["swap"],
                rxtx_factor=data["rxtx_factor"],
                description=data["description"],
                projects=access.cleaned_data["projects"],
            )
        except (Conflict, BadRequest) as exc:
            info.add_error(None, exc.message)
        else:
            messages.success(request, f'Created new flavor "{flavor.name}".')
            return redirect("admin-flavors")
    step = "access" if info.is_bound and not info.errors and access.errors else "info"
    return render(request, "flavors/create.html", {"info": info, "access": access, "step": step})


@policy_required(policies.ACCESS_ADD)
def flavor_access(request: HttpRequest, flavor_id: str) -> HttpResponse:
    flavor = get_object_or_404(Flavor, pk=flavor_id)
    if flavor.is_public:
        messages.error(request, f"{flavor.name} is public: every project may use it already.")
        return redirect("admin-flavors")
    form = FlavorAccessForm(request.POST or None, initial={"projects": list(flavor.projects.all())})
    if request.method == "POST" and form.is_valid():
        if not can(request.ctx, policies.ACCESS_REMOVE):
            messages.error(request, "You may not remove projects from a flavor's access list.")
        else:
            services.set_access(flavor, form.cleaned_data["projects"])
            messages.success(request, f'Modified access of flavor "{flavor.name}".')
            return redirect("admin-flavors")
    return render(request, "flavors/access.html", {"flavor": flavor, "form": form})


@policy_required(policies.SPECS_CREATE)
def flavor_metadata(request: HttpRequest, flavor_id: str) -> HttpResponse:
    flavor = get_object_or_404(Flavor, pk=flavor_id)
    if request.method == "POST":
        form = ExtraSpecsForm(request.POST)
        if form.is_valid():
            services.replace_extra_specs(flavor, form.cleaned_data["specs"])
            messages.success(request, f'Updated metadata of flavor "{flavor.name}".')
            return redirect("admin-flavors")
    else:
        form = ExtraSpecsForm(initial_specs=flavor.spec_dict())
    namespaces = metadata_catalog.known_properties(request.ctx, metadata_catalog.FLAVOR)
    catalog = metadata_catalog.by_key(namespaces)
    return render(
        request,
        "flavors/metadata.html",
        {
            "flavor": flavor,
            "form": form,
            "rows": [(key, value, catalog.get(key)) for key, value in form.rows],
            "namespaces": namespaces,
            "known": extra_specs.KNOWN_SPECS.values(),
            "blank_rows": range(3),
        },
    )


@policy_required(policies.FLAVOR_DELETE)
@require_http_methods(["GET", "POST"])
def flavor_delete(request: HttpRequest) -> HttpResponse:
    """Delete one or more flavors (``?id=…&id=…``) after a confirmation that says what uses them."""
    ids = request.POST.getlist("id") if request.method == "POST" else request.GET.getlist("id")
    flavors = list(Flavor.objects.filter(pk__in=ids).with_instance_count())
    if not flavors:
        messages.error(request, "Select at least one flavor to delete.")
        return redirect("admin-flavors")
    if request.method == "POST" and "confirm" in request.POST:
        with transaction.atomic():
            services.delete_flavors(flavors)
        names = ", ".join(f.name for f in flavors)
        messages.success(
            request, f"Deleted {len(flavors)} flavor{'s' if len(flavors) != 1 else ''}: {names}."
        )
        return redirect("admin-flavors")
    in_use = sum(f.instance_count for f in flavors)
    usage = flavor_usage(request.ctx, [f.pk for f in flavors])
    return render(
        request,
        "flavors/confirm_delete.html",
        {
            "rows": [(f, usage[str(f.pk)]) for f in flavors],
            "flavors": flavors,
            "in_use": in_use,
            "cancel_url": reverse("admin-flavors"),
        },
    )


@policy_required(policies.FLAVOR_READ, needs_project=True)
def project_flavors(request: HttpRequest) -> HttpResponse:
    """What the current project can launch with: public flavors and those shared with it."""
    flavors = Flavor.objects.launchable_by(request.ctx).order_by("ram", "vcpus", "name")
    return render(request, "flavors/project_list.html", {"flavors": flavors})
