"""Project → API Access: the service endpoints of the catalog, an openrc file and a clouds.yaml for
the signed-in user and project, and the user's application credentials (create, with the secret
shown once and its own clouds.yaml and openrc to download right then; delete)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.hashers import check_password
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.identity import application_credentials as creds
from dashboard.identity import rc_files
from dashboard.identity.access_forms import ApplicationCredentialForm
from dashboard.identity.catalog import catalog
from dashboard.policy import can

LIST = "identity:list_application_credentials"
CREATE = "identity:create_application_credential"
DELETE = "identity:delete_application_credential"


def own(ctx) -> dict:
    return {"user_id": ctx.user.pk}


def _download(text: str, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


def _project(request):
    if request.ctx.project is None:
        raise PermissionDenied("You have no role on any project.")
    return request.ctx.project


@policy_required(LIST, target=own, needs_project=True)
def api_access(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    endpoints = [
        {
            "type": entry["type"],
            "name": entry["name"],
            "url": next(e["url"] for e in entry["endpoints"] if e["interface"] == "public"),
        }
        for entry in catalog(request, ctx.project_id)
    ]
    return render(
        request,
        "dashboard/api_access/index.html",
        {
            "endpoints": endpoints,
            "credentials": creds.owned_by(ctx.user.pk).order_by("name"),
            "allowed": {"create": can(ctx, CREATE, own(ctx)), "delete": can(ctx, DELETE, own(ctx))},
            "cloud_name": rc_files.CLOUD_NAME,
        },
    )


@policy_required(LIST, target=own, needs_project=True)
def openrc(request: HttpRequest) -> HttpResponse:
    project = _project(request)
    text = rc_files.openrc(request, request.ctx.user, project)
    return _download(text, f"{project.name}-openrc.sh", "text/x-shellscript")


@policy_required(LIST, target=own, needs_project=True)
def clouds_yaml(request: HttpRequest) -> HttpResponse:
    project = _project(request)
    return _download(rc_files.clouds_yaml(request, request.ctx.user, project), "clouds.yaml", "text/yaml")


@policy_required(CREATE, target=own, needs_project=True)
@require_http_methods(["GET", "POST"])
def credential_create(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    role_names = sorted(r.name for r in creds.assigned_roles(ctx.user, ctx.project))
    form = ApplicationCredentialForm(request.POST or None, role_names=role_names)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            cred, secret = creds.create(
                ctx,
                data["name"],
                description=data["description"],
                expires_at=data["expires_at"],
                roles=[{"name": name} for name in data["roles"]],
                unrestricted=data["unrestricted"],
            )
        except StratusError as exc:
            form.add_error("name" if exc.status == 409 else None, exc.message)
        else:
            # The one page that shows the secret: it is not kept, so it is not in any redirect.
            response = render(
                request,
                "dashboard/api_access/credential_created.html",
                {
                    "cred": creds.get(ctx.user.pk, cred.id),
                    "secret": secret,
                    "title": "Your Application Credential",
                },
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(
        request,
        "dashboard/api_access/credential_form.html",
        {"form": form, "title": "Create Application Credential", "cancel_url": reverse("project-api-access")},
    )


@policy_required(CREATE, target=own)
@require_POST
def credential_file(request: HttpRequest, credential_id: str, kind: str) -> HttpResponse:
    """A credential's clouds.yaml or openrc, made from the secret posted back by the page that
    showed it; the secret must match the stored hash, so nothing else can be written into one."""
    if kind not in ("clouds.yaml", "openrc"):
        raise Http404("No such file.")
    try:
        cred = creds.get(request.ctx.user.pk, credential_id)
    except StratusError as exc:
        raise Http404(exc.message) from exc
    secret = request.POST.get("secret", "")
    if not secret or not check_password(secret, cred.secret_hash):
        raise PermissionDenied("That is not the secret of this application credential.")
    if kind == "clouds.yaml":
        return _download(rc_files.credential_clouds_yaml(request, cred, secret), "clouds.yaml", "text/yaml")
    text = rc_files.credential_openrc(request, cred, secret)
    return _download(text, f"{cred.name}-openrc.sh", "text/x-shellscript")


@policy_required(DELETE, target=own)
@require_http_methods(["GET", "POST"])
def credential_delete(request: HttpRequest, credential_id: str) -> HttpResponse:
    try:
        cred = creds.get(request.ctx.user.pk, credential_id)
    except StratusError as exc:
        raise Http404(exc.message) from exc
    if request.method == "POST":
        creds.delete(request.ctx, cred)
        messages.success(request, f'Deleted application credential "{cred.name}".')
        return redirect("project-api-access")
    return render(
        request,
        "generic/confirm.html",
        {
            "title": "Delete Application Credential",
            "items": [cred.name],
            "warning": "Scripts that use it can no longer sign in, and the tokens it got stop working now.",
            "submit": "Delete Application Credential",
            "cancel_url": reverse("project-api-access"),
        },
    )
