"""Settings of the signed-in user: their password, items per page and time zone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from dashboard.forms import PasswordChangeForm, UserSettingsForm
from dashboard.models import Token, User
from images import services as image_services
from images.models import Image
from tests.dashboard.test_views import login
from tests.factories import PASSWORD, issue_token, make_project, make_user

pytestmark = pytest.mark.django_db

NEW = "a-Brand-new-passphrase-42"


@pytest.fixture
def alice():
    project = make_project("demo")
    return make_user("alice", roles={project: "member"}), project


def change(client, current=PASSWORD, new=NEW, confirm=None):
    return client.post(
        reverse("password-change"),
        {"current_password": current, "new_password": new, "confirm_password": confirm or new},
    )


def test_a_password_change_ends_the_other_sessions_and_every_token_but_not_this_session(client, alice):
    user, project = alice
    other = Client()
    login(other, "alice")
    login(client, "alice")
    tok = issue_token(user, project)
    headers = {"HTTP_X_AUTH_TOKEN": tok}
    assert client.get("/compute/v2.1/servers", **headers).status_code == 200  # validated and cached

    response = change(client)
    assert response.status_code == 302 and response["Location"] == reverse("user-settings")
    assert client.get("/").status_code == 200  # this session goes on
    assert other.get("/").status_code == 302  # the other one is back at the login page
    assert not Token.objects.filter(user=user).exists()
    assert client.get("/compute/v2.1/servers", **headers).status_code == 401
    assert User.objects.get(pk=user.pk).check_password(NEW)


def test_the_current_password_is_required_and_a_bad_new_one_changes_nothing(client, alice):
    user, project = alice
    login(client, "alice")
    issue_token(user, project)
    page = change(client, current="wrong").content.decode()
    assert "The current password is not correct." in page
    assert "The two passwords do not match." in change(client, confirm="something-else").content.decode()
    assert "too short" in change(client, new="short").content.decode()
    assert "must differ" in change(client, new=PASSWORD).content.decode()
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    assert Token.objects.filter(user=user).count() == 1


def test_repeated_wrong_current_passwords_lock_the_user_out(client, alice, settings):
    user, project = alice
    login(client, "alice")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert "The current password is not correct." in change(client, current="wrong").content.decode()
    assert change(client, current="wrong").status_code == 429  # the failure that reaches the limit
    locked = change(client)  # even the right current password is refused now
    assert locked.status_code == 429 and b"Too many failed sign-in attempts" in locked.content
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def admin_changes_meanwhile(monkeypatch, form_class, user, **fields) -> None:
    """An administrator changes ``fields`` of the user while the request runs, after it loaded the
    user (between the form's validation and its save)."""
    real = form_class.clean

    def clean(form):
        data = real(form)
        User.objects.filter(pk=user.pk).update(**fields)
        return data

    monkeypatch.setattr(form_class, "clean", clean)


def test_saving_settings_keeps_a_concurrent_admin_change(client, alice, monkeypatch):
    user, project = alice
    login(client, "alice")
    admin_changes_meanwhile(
        monkeypatch, UserSettingsForm, user, is_active=False, email="set-by-admin@example.com"
    )
    response = client.post(reverse("user-settings"), {"items_per_page": "10", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.items_per_page, user.time_zone) == (10, "Asia/Tokyo")
    assert not user.is_active and user.email == "set-by-admin@example.com"


def test_a_password_change_keeps_a_concurrent_admin_change(client, alice, monkeypatch):
    user, project = alice
    login(client, "alice")
    admin_changes_meanwhile(monkeypatch, PasswordChangeForm, user, email="set-by-admin@example.com")
    assert change(client).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW) and user.email == "set-by-admin@example.com"


def test_items_per_page_and_the_time_zone_apply_to_the_pages(client, alice):
    user, project = alice
    login(client, "alice")
    response = client.post(reverse("user-settings"), {"items_per_page": "10", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.items_per_page, user.time_zone) == (10, "Asia/Tokyo")
    assert 'id="f-per-page"' in (page := client.get("/images/").content.decode())
    assert "<option selected>10</option>" in page
    # The dates the pages show come out in Tokyo time (UTC+9).
    image = image_services.create_image(project.pk, {"name": "dated", "disk_format": "raw"}, {}, [])
    Image.objects.filter(pk=image.pk).update(created_at=dt.datetime(2026, 1, 1, 20, 30, tzinfo=dt.UTC))
    assert "2026-01-02 05:30" in client.get("/images/").content.decode()
    user.time_zone = ""
    user.save()
    assert "2026-01-01 20:30" in client.get("/images/").content.decode()


def test_bad_settings_are_refused(client, alice):
    login(client, "alice")
    response = client.post(reverse("user-settings"), {"items_per_page": "7", "time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    user = User.objects.get(username="alice")
    assert (user.items_per_page, user.time_zone) == (None, "")
