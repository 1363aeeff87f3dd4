"""Settings of the signed-in user: display settings and their own password."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dashboard.exceptions import StratusError
from dashboard.forms import PasswordChangeForm, UserSettingsForm
from dashboard.identity import admin as identity_admin


@login_required
@require_http_methods(["GET", "POST"])
def user_settings(request: HttpRequest) -> HttpResponse:
    form = UserSettingsForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        # Only the settings' own columns: a change an administrator made to the user meanwhile stays.
        form.save(commit=False).save(update_fields=UserSettingsForm.Meta.fields)
        messages.success(request, "Settings saved.")
        return redirect("user-settings")
    return render(
        request,
        "generic/form.html",
        {"form": form, "title": "User Settings", "submit": "Save", "cancel_url": reverse("overview")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            user = identity_admin.change_own_password(
                request,
                request.user,
                form.cleaned_data["current_password"],
                form.cleaned_data["new_password"],
            )
        except StratusError as exc:
            field = "current_password" if exc.status == 401 else "new_password"
            form.add_error(field, exc.message)
        else:
            # This session goes on under the new password; every other one ends.
            update_session_auth_hash(request, user)
            messages.success(request, "Password changed. Your other sessions and your API tokens have ended.")
            return redirect("user-settings")
    return render(
        request,
        "generic/form.html",
        {
            "form": form,
            "title": "Change Password",
            "submit": "Change Password",
            "cancel_url": reverse("user-settings"),
        },
    )
