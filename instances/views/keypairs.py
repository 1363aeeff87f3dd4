"""The Project → Key Pairs panel: the signed-in user's key pairs (they belong to the user, across
projects), Create Key Pair (the private key is the response, downloaded once and never kept),
Import Public Key and Delete, all through the key pair services."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods

from dashboard.decorators import policy_required
from dashboard.exceptions import StratusError
from dashboard.policy import can
from instances import policies
from instances.forms.keypairs import ImportKeyPairForm, KeyPairNameForm
from instances.models import KeyPair
from instances.services import keypairs


def own(ctx) -> dict:
    """The policy target of the user's own key pairs."""
    return {"user_id": ctx.user.pk}


def _field_of(exc: StratusError) -> str | None:
    """Which field a refusal of the key pair service is about (None: the whole form)."""
    if isinstance(exc, keypairs.KeypairExists):
        return "name"
    if isinstance(exc, keypairs.InvalidKeypair):
        return "public_key"
    return None


def _form_page(request, form, title: str, submit: str, note: str) -> HttpResponse:
    return render(
        request,
        "instances/keypairs/form.html",
        {
            "form": form,
            "title": title,
            "submit": submit,
            "note": note,
            "cancel_url": reverse("project-keypairs"),
        },
    )


@policy_required(policies.KEYPAIRS_INDEX, target=own)
def keypair_list(request: HttpRequest) -> HttpResponse:
    ctx = request.ctx
    allowed = {
        "create": can(ctx, policies.KEYPAIRS_CREATE, own(ctx)),
        "delete": can(ctx, policies.KEYPAIRS_DELETE, own(ctx)),
    }
    rows = KeyPair.objects.filter(user=ctx.user).order_by("name")
    return render(request, "instances/keypairs/list.html", {"keypairs": rows, "allowed": allowed})


@policy_required(policies.KEYPAIRS_CREATE, target=own)
@require_http_methods(["GET", "POST"])
def keypair_create(request: HttpRequest) -> HttpResponse:
    form = KeyPairNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        try:
            generated = keypairs.create_keypair(request.ctx.user, name, project_id=request.ctx.project_id)
        except StratusError as exc:
            form.add_error(_field_of(exc), exc.message)
        else:
            response = HttpResponse(generated.private_key, content_type="application/x-pem-file")
            response["Content-Disposition"] = content_disposition_header(True, f"{name}.pem")
            response["Cache-Control"] = "no-store"
            return response
    return _form_page(
        request,
        form,
        "Create Key Pair",
        "Create Key Pair",
        "An ed25519 key pair is generated; its private key downloads once as NAME.pem and is not kept "
        "anywhere, so save it. Instances launched with the key pair accept it for SSH.",
    )


@policy_required(policies.KEYPAIRS_CREATE, target=own)
@require_http_methods(["GET", "POST"])
def keypair_import(request: HttpRequest) -> HttpResponse:
    form = ImportKeyPairForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            keypairs.import_keypair(
                request.ctx.user, data["name"], data["public_key"], project_id=request.ctx.project_id
            )
        except StratusError as exc:
            form.add_error(_field_of(exc), exc.message)
        else:
            messages.success(request, f'Imported key pair "{data["name"]}".')
            return redirect("project-keypairs")
    return _form_page(
        request,
        form,
        "Import Public Key",
        "Import Public Key",
        "Accepted are ssh-ed25519, ECDSA (NIST curves) and RSA keys of at least 2048 bits.",
    )


@policy_required(policies.KEYPAIRS_DELETE, target=own)
@require_http_methods(["GET", "POST"])
def keypair_delete(request: HttpRequest, name: str) -> HttpResponse:
    user_id = request.ctx.user.pk
    try:
        keypair = keypairs.get_keypair(user_id, name)
    except keypairs.KeypairNotFound as exc:
        raise Http404(exc.message) from exc
    if request.method == "POST":
        try:
            keypairs.delete_keypair(user_id, keypair.name)
        except StratusError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f'Deleted key pair "{keypair.name}".')
        return redirect("project-keypairs")
    return render(
        request,
        "generic/confirm.html",
        {
            "title": "Delete Key Pair",
            "items": [f"{keypair.name} ({keypair.fingerprint})"],
            "warning": "Instances launched with it keep their copy of the public key; it cannot be "
            "chosen for new launches. This cannot be undone.",
            "submit": "Delete Key Pair",
            "cancel_url": reverse("project-keypairs"),
        },
    )
