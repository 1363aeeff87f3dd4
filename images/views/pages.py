"""The Images panels: list (project and admin), live rows, detail, and the Create Image form.

Creating an image is split like Horizon's direct mode, minus its pitfalls: this view only checks
the form and answers with the Image API request to make; the browser then creates the record,
sends the bytes and starts the import through the Image API itself (progress, abort, retry)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from dashboard import preferences
from dashboard.decorators import policy_required
from dashboard.exceptions import NotFound
from dashboard.policy import can
from images.api.fields import readable
from images.api.views import find_image
from images.choices import DiskFormat, ImageStatus, Visibility
from images.forms import ARCHITECTURES, CreateImageForm
from images.models import Image, ImageMember
from images.views import rows
from images.views.table import DEFAULT_PER_PAGE, PAGE_SIZES, SCOPES, ImageTable


def get_image(request: HttpRequest, image_id) -> Image:
    """The image if the user may see it, else 404 (the API's rule, through the API's lookup)."""
    try:
        return find_image(request.ctx, image_id)
    except NotFound:
        raise Http404("No such image.") from None


def create_allowed(ctx) -> bool:
    return ctx.project is not None and can(
        ctx, "add_image", {"project_id": ctx.project_id, "owner": ctx.project_id}
    )


def _panel(request: HttpRequest, *, admin: bool) -> HttpResponse:
    ctx = request.ctx
    table = ImageTable.from_query(
        request.GET, admin=admin, per_page=preferences.items_per_page(request.user, DEFAULT_PER_PAGE)
    )
    page = table.paginate(ctx)
    creating = create_allowed(ctx) and not admin
    return render(
        request,
        "images/list.html",
        {
            "page": page,
            "table": table,
            "admin": admin,
            "scopes": SCOPES,
            "statuses": ImageStatus.choices,
            "visibilities": Visibility.choices,
            "formats": DiskFormat.choices,
            "page_sizes": PAGE_SIZES,
            "can_create": creating,
            "can_delete": can(ctx, "delete_image"),
            # The ticked rows are the ones the user may delete: the other bulk actions need that too.
            "can_bulk": can(ctx, "delete_image") and (can(ctx, "deactivate") or can(ctx, "modify_image")),
            "matching_fields": [*table.params(page="").items(), *([("admin", "1")] if admin else [])],
            "create_form": CreateImageForm(ctx=ctx, owner=ctx.project_id) if creating else None,
            "architectures": ARCHITECTURES,
            "row_query": "admin=1" if admin else "",
            "query": table.query(page=""),  # filters, sorting and page size; the pager adds page=N
        },
    )


@policy_required("get_images")
def image_list(request: HttpRequest) -> HttpResponse:
    return _panel(request, admin=False)


@policy_required("dashboard:admin_section")
def admin_image_list(request: HttpRequest) -> HttpResponse:
    return _panel(request, admin=True)


@policy_required("get_images")
def image_row(request: HttpRequest, image_id: str) -> HttpResponse:
    """One table row; rows in a transitional state poll this with a growing delay (2 s → 30 s)."""
    image = get_image(request, image_id)
    image.my_member_status = (
        ImageMember.objects.filter(image=image, member=request.ctx.project_id)
        .values_list("status", flat=True)
        .first()
    )
    rows.decorate([image], request.ctx)
    try:
        delay = float(request.GET.get("delay", "0"))
    except ValueError:
        delay = 0.0
    return render(
        request,
        "images/_row.html",
        {
            "image": image,
            "delay": rows.next_delay(delay),
            "admin": request.GET.get("admin") == "1",
            "row_query": "admin=1" if request.GET.get("admin") == "1" else "",
            "return_to": _current_page(request),
        },
    )


@policy_required("get_images")
def image_detail(request: HttpRequest, image_id: str) -> HttpResponse:
    image = get_image(request, image_id)
    image.my_member_status = next(
        (m.status for m in image.members.all() if m.member == request.ctx.project_id), None
    )
    rows.decorate([image], request.ctx)
    ctx = request.ctx
    properties = sorted((k, v) for k, v in image.properties.items() if readable(ctx, k))
    own = ctx.is_admin or image.owner == ctx.project_id
    return render(
        request,
        "images/detail.html",
        {
            "image": image,
            "properties": properties,
            "members": list(image.members.all()) if own else [],
            "tags": [t.value for t in image.tag_set.all()],
            "stores": sorted({loc.store for loc in image.locations.all()}),
            "show_stores": can(ctx, "get_image_location", {"project_id": image.owner}),
            "transitional": rows.is_transitional(image),
        },
    )


@policy_required("get_images", needs_project=True)
@require_http_methods(["GET", "POST"])
def image_create(request: HttpRequest) -> HttpResponse:
    """GET: the form (as a page; the panel has it in a dialog). POST: check it and answer, as JSON,
    with the Image API call the browser makes next, or with the errors of each field."""
    ctx = request.ctx
    if not create_allowed(ctx):
        raise PermissionDenied("Policy doesn't allow add_image.")
    if request.method == "GET":
        form = CreateImageForm(ctx=ctx, owner=ctx.project_id, initial=_initial_from(request))
        return render(request, "images/create.html", {"create_form": form, "architectures": ARCHITECTURES})
    form = CreateImageForm(request.POST, ctx=ctx, owner=ctx.project_id)
    if not form.is_valid():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return JsonResponse({"errors": errors}, status=400)
    data = form.cleaned_data
    return JsonResponse(
        {
            "image": form.api_body(),
            "source": data["source"],
            "location": data.get("location") or "",
            "copy_data": bool(data.get("copy_data")) or not form.can_register_location,
        }
    )


def _current_page(request: HttpRequest) -> str:
    """The panel a polled row sits in (htmx names it), so row actions return there."""
    parts = urlsplit(request.headers.get("HX-Current-URL", ""))
    if parts.netloc and parts.netloc != request.get_host():
        return ""
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _initial_from(request: HttpRequest) -> dict:
    """ "Retry" on a killed image opens the form filled in with that image's settings."""
    source_id = request.GET.get("from", "")
    try:
        uuid.UUID(source_id)
    except ValueError:
        return {}
    try:
        image = find_image(request.ctx, source_id)
    except NotFound:
        return {}
    props = {k: v for k, v in image.properties.items() if readable(request.ctx, k)}
    free = "\n".join(f"{k}={v}" for k, v in props.items() if k not in ("description", "architecture"))
    return {
        "name": image.name,
        "description": props.get("description", ""),
        "architecture": props.get("architecture", ""),
        "disk_format": image.disk_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "visibility": image.visibility,
        "protected": image.protected,
        "properties": free,
        "location": image.import_uri,
        "source": "url" if image.import_uri else "file",
    }
