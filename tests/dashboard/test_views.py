"""The dashboard shell: login, project switcher, Admin pages and who sees them."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from dashboard.identity.service import COMPUTE_USER, service_identity
from dashboard.models import Project, RoleAssignment, Token, User
from tests.factories import PASSWORD, issue_token, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    admin_p, demo_p = make_project("admin"), make_project("demo")
    admin = make_user("boss", roles={admin_p: "admin", demo_p: "admin"})
    member = make_user("alice", roles={demo_p: "member"})
    return {"admin_project": admin_p, "demo": demo_p, "admin": admin, "member": member}


def login(client, username: str, password: str = PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password, **extra})


def test_pages_need_a_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/")


def test_the_login_page_renders_without_creating_a_session(client):
    response = client.get("/auth/login/?next=/admin/")
    assert response.status_code == 200
    assert b'name="password"' in response.content
    assert Session.objects.count() == 0


def test_a_member_logs_in_and_sees_only_the_project_section(client, world):
    response = login(client, "alice")
    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get("/").content.decode()
    assert 'data-section="Project"' in page and 'data-section="Admin"' not in page
    assert world["demo"].name in page
    assert client.get(reverse("admin-projects")).status_code == 403
    assert client.get(reverse("admin-users")).status_code == 403


def test_an_admin_sees_the_admin_section(client, world):
    login(client, "boss")
    page = client.get("/").content.decode()
    assert 'data-section="Admin"' in page
    assert client.get(reverse("admin-projects")).status_code == 200
    assert client.get(reverse("admin-users")).status_code == 200


def test_wrong_password_shows_an_error_and_no_session(client, world):
    response = login(client, "alice", "nope")
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "http://testserver.evil.example/"]
)
def test_next_cannot_redirect_off_site(client, world, target):
    response = login(client, "alice", next=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_next_to_a_local_page_is_followed(client, world):
    response = login(client, "boss", next="/admin/users/")
    assert response["Location"] == "/admin/users/"


def test_switching_project_changes_the_context(client, world):
    other = make_project("other")
    RoleAssignment.objects.create(
        user=world["member"], project=other, role_id=world["member"].assignments.first().role_id
    )
    login(client, "alice")
    response = client.post(reverse("switch-project", args=[other.id]), {"next": "/"})
    assert response.status_code == 302
    assert client.session["project_id"] == other.id
    assert '<span class="fw-semibold" id="current-project">other</span>' in client.get("/").content.decode()


def test_switching_to_a_project_without_a_role_is_refused(client, world):
    login(client, "alice")
    client.get("/")
    before = client.session["project_id"]
    assert before == world["demo"].id
    client.post(reverse("switch-project", args=[world["admin_project"].id]))
    assert client.session["project_id"] == before


def test_switch_does_not_follow_an_offsite_next(client, world):
    login(client, "alice")
    response = client.post(
        reverse("switch-project", args=[world["demo"].id]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_login_is_throttled_after_repeated_failures(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "alice", "wrong")
    locked = login(client, "alice")  # even the right password is refused now
    assert locked.status_code == 429
    assert b"Too many failed sign-in attempts" in locked.content
    assert "_auth_user_id" not in client.session


def test_admin_creates_a_project_a_user_and_a_role_assignment(client, world):
    login(client, "boss")
    response = client.post(
        reverse("admin-project-create"), {"name": "research", "description": "R&D", "enabled": "on"}
    )
    project = Project.objects.get(name="research")
    assert response.status_code == 302
    response = client.post(
        reverse("admin-user-create"),
        {
            "username": "carol",
            "email": "carol@example.org",
            "is_active": "on",
            "password": "a-long-passphrase",
            "confirm_password": "a-long-passphrase",
            "project": project.id,
            "role": "reader",
        },
    )
    assert response.status_code == 302, response.content
    carol = User.objects.get(username="carol")
    assert carol.check_password("a-long-passphrase") and carol.default_project == project
    assert list(carol.assignments.values_list("role__name", flat=True)) == ["reader"]
    client.post(reverse("admin-assignment-add", args=[project.id]), {"user": carol.id, "role": "member"})
    assert set(carol.assignments.values_list("role__name", flat=True)) == {"reader", "member"}


def test_duplicate_project_names_are_a_field_error(client, world):
    login(client, "boss")
    response = client.post(reverse("admin-project-create"), {"name": "DEMO"})
    assert response.status_code == 200
    assert "A project with this name already exists." in response.content.decode()
    assert Project.objects.filter(name__iexact="demo").count() == 1


def test_mismatched_passwords_create_no_user(client, world):
    login(client, "boss")
    response = client.post(
        reverse("admin-user-create"),
        {"username": "dave", "password": "a-long-passphrase", "confirm_password": "another-passphrase"},
    )
    assert response.status_code == 200
    assert "The passwords do not match." in response.content.decode()
    assert not User.objects.filter(username="dave").exists()


def test_removing_the_last_role_revokes_the_users_tokens_on_that_project(client, world):
    raw = issue_token(world["member"], world["demo"])
    login(client, "boss")
    assignment = world["member"].assignments.get()
    client.post(reverse("admin-assignment-remove", args=[world["demo"].id, assignment.id]))
    assert not Token.objects.filter(id=Token.digest(raw)).exists()


def test_deleting_a_user_revokes_their_tokens(client, world):
    raw = issue_token(world["member"], world["demo"])
    login(client, "boss")
    client.post(reverse("admin-user-delete", args=[world["member"].id]))
    assert not User.objects.filter(username="alice").exists()
    assert client.get("/identity/v3/auth/catalog", HTTP_X_AUTH_TOKEN=raw).status_code == 401


def test_an_html_404_for_pages_and_json_for_apis(client, world):
    login(client, "alice")
    page = client.get("/no/such/page/")
    assert page.status_code == 404 and b"could not be found" in page.content
    api = client.get("/compute/v2.1/nothing")
    assert api.status_code == 404 and api.json()["itemNotFound"]["code"] == 404


def test_service_identities_are_marked_and_offer_no_edit_or_delete(client, world):
    user, project = service_identity(COMPUTE_USER)
    login(client, "boss")
    users = client.get(reverse("admin-users")).content.decode()
    assert "Service identity" in users
    assert reverse("admin-user-edit", args=[world["member"].id]) in users
    assert reverse("admin-user-edit", args=[user.id]) not in users
    assert reverse("admin-user-delete", args=[user.id]) not in users
    projects = client.get(reverse("admin-projects")).content.decode()
    assert reverse("admin-project-quotas", args=[world["demo"].id]) in projects
    assert reverse("admin-project-quotas", args=[project.id]) not in projects
    detail = client.get(reverse("admin-project-detail", args=[project.id])).content.decode()
    assert 'data-testid="service-note"' in detail
    assert reverse("admin-project-edit", args=[project.id]) not in detail
    assert reverse("admin-project-delete", args=[project.id]) not in detail
    # What the links would have led to is refused anyway.
    assert client.get(reverse("admin-user-edit", args=[user.id])).status_code == 404
