"""Keystone v3 administration: projects, users and role assignments by an admin; 403 for a member;
the Default domain only; a project that owns resources is not deleted from under them."""

from __future__ import annotations

import json

import pytest

from dashboard.identity.service import COMPUTE_USER, service_identity
from dashboard.models import Project, Role, RoleAssignment, Token, User
from images import services as image_services
from images.models import Image
from tests.factories import PASSWORD, issue_token, make_project, make_user

pytestmark = pytest.mark.django_db
V3 = "/identity/v3"


class Caller:
    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def __call__(self, method: str, path: str, body=None):
        kwargs = {"HTTP_X_AUTH_TOKEN": self.token}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(f"{V3}{path}", **kwargs)


@pytest.fixture
def world(client):
    home = make_project("home")
    root = make_user("root", roles={home: "admin"})
    mia = make_user("mia", roles={home: "member"})
    return {
        "home": home,
        "admin": Caller(client, issue_token(root, home)),
        "member": Caller(client, issue_token(mia, home)),
        "mia": mia,
    }


def role_id(name: str) -> str:
    return Role.objects.get(name=name).id


def test_an_admin_creates_updates_and_deletes_a_project(world):
    call = world["admin"]
    made = call("post", "/projects", {"project": {"name": "web", "description": "d", "domain_id": "default"}})
    assert made.status_code == 201, made.content
    project = made.json()["project"]
    assert (project["name"], project["description"], project["enabled"], project["domain_id"]) == (
        "web", "d", True, "default",
    )  # fmt: skip
    assert call("post", "/projects", {"project": {"name": "WEB"}}).status_code == 409
    changed = call("patch", f"/projects/{project['id']}", {"project": {"enabled": False, "description": "x"}})
    assert changed.status_code == 200 and changed.json()["project"]["enabled"] is False
    assert call("delete", f"/projects/{project['id']}").status_code == 204
    assert not Project.objects.filter(pk=project["id"]).exists()
    assert call("delete", f"/projects/{project['id']}").status_code == 404


def test_another_domain_is_refused_with_the_reason(world):
    response = world["admin"]("post", "/projects", {"project": {"name": "x", "domain_id": "corp"}})
    assert response.status_code == 400
    assert "one domain" in response.json()["error"]["message"]
    assert world["admin"]("get", "/domains/default").json()["domain"]["name"] == "Default"
    assert world["admin"]("get", "/domains/corp").status_code == 404


def test_an_admin_creates_a_user_grants_a_role_and_lists_assignments(world, client):
    call, home = world["admin"], world["home"]
    made = call(
        "post",
        "/users",
        {"user": {"name": "ann", "password": "a-long-secret-9", "default_project_id": home.id}},
    )
    assert made.status_code == 201, made.content
    ann = made.json()["user"]
    assert (ann["name"], ann["default_project_id"], ann["enabled"]) == ("ann", home.id, True)
    assert call("post", "/users", {"user": {"name": "ann", "password": "a-long-secret-9"}}).status_code == 409

    grant = f"/projects/{home.id}/users/{ann['id']}/roles/{role_id('member')}"
    assert call("head", grant).status_code == 404
    assert call("put", grant).status_code == 204
    assert call("put", grant).status_code == 204  # idempotent
    assert call("head", grant).status_code == 204
    roles = call("get", f"/projects/{home.id}/users/{ann['id']}/roles").json()["roles"]
    assert [r["name"] for r in roles] == ["member"]

    listed = call("get", f"/role_assignments?user.id={ann['id']}&include_names=1").json()["role_assignments"]
    assert [(a["user"]["name"], a["scope"]["project"]["name"], a["role"]["name"]) for a in listed] == [
        ("ann", "home", "member")
    ]
    # The new user signs in with the password.
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": ann["id"], "password": "a-long-secret-9"}},
            },
            "scope": {"project": {"id": home.id}},
        }
    }
    assert (
        client.post(f"{V3}/auth/tokens", json.dumps(body), content_type="application/json").status_code == 201
    )

    assert call("delete", grant).status_code == 204
    assert not Token.objects.filter(user_id=ann["id"], project=home).exists()
    assert call("delete", grant).status_code == 404
    assert (
        call("patch", f"/users/{ann['id']}", {"user": {"enabled": False}}).json()["user"]["enabled"] is False
    )
    assert call("delete", f"/users/{ann['id']}").status_code == 204
    assert not User.objects.filter(pk=ann["id"]).exists()


def test_a_weak_password_or_reserved_fields_are_400s(world):
    call = world["admin"]
    assert call("post", "/users", {"user": {"name": "bob", "password": "x"}}).status_code == 400
    assert (
        call(
            "post", "/users", {"user": {"name": "bob", "password": "a-long-secret-9", "id": "1"}}
        ).status_code
        == 400
    )
    assert call("post", "/projects", {"project": {"name": ""}}).status_code == 400
    assert not User.objects.filter(username="bob").exists()


def test_other_attributes_of_a_user_are_kept_and_shown_as_keystone_does(world):
    call = world["admin"]
    body = {"user": {"name": "bob", "password": "a-long-secret-9", "project_id": world["home"].pk, "x": 1}}
    made = call("post", "/users", body)
    assert made.status_code == 201, made.content
    user = made.json()["user"]
    assert (user["project_id"], user["x"], user["name"]) == (world["home"].pk, 1, "bob")
    assert User.objects.get(username="bob").extra == {"project_id": world["home"].pk, "x": 1}
    changed = call("patch", f"/users/{user['id']}", {"user": {"x": None, "y": "z"}})
    assert changed.status_code == 200
    assert call("get", f"/users/{user['id']}").json()["user"]["y"] == "z"
    assert User.objects.get(username="bob").extra == {"project_id": world["home"].pk, "y": "z"}


def test_a_new_password_ends_the_user_s_tokens(world):
    mia = world["mia"]
    assert Token.objects.filter(user=mia).exists()
    assert (
        world["admin"]("patch", f"/users/{mia.id}", {"user": {"password": "another-secret-77"}}).status_code
        == 200
    )
    assert not Token.objects.filter(user=mia).exists()


def test_a_member_gets_403_for_each(world):
    call, home, mia = world["member"], world["home"], world["mia"]
    for method, path, body in (
        ("post", "/projects", {"project": {"name": "mine"}}),
        ("patch", f"/projects/{home.id}", {"project": {"description": "x"}}),
        ("delete", f"/projects/{home.id}", None),
        ("post", "/users", {"user": {"name": "eve", "password": "a-long-secret-9"}}),
        ("patch", f"/users/{mia.id}", {"user": {"email": "x@y"}}),
        ("put", f"/projects/{home.id}/users/{mia.id}/roles/{role_id('admin')}", None),
        ("delete", f"/projects/{home.id}/users/{mia.id}/roles/{role_id('member')}", None),
        ("get", "/role_assignments", None),
    ):
        response = call(method, path, body)
        assert response.status_code == 403, (method, path, response.content)
        assert "You are not authorized to perform the requested action" in response.json()["error"]["message"]
    assert RoleAssignment.objects.filter(user=mia, project=home).count() == 1
    assert not Project.objects.filter(name="mine").exists()


def test_a_project_that_owns_images_is_not_deleted(world):
    other = make_project("busy")
    Image.objects.create(name="kept", owner=other.pk, disk_format="raw", container_format="bare")
    response = world["admin"]("delete", f"/projects/{other.id}")
    assert response.status_code == 409
    assert "still owns 1 image" in response.json()["error"]["message"]
    assert Project.objects.filter(pk=other.pk).exists()


def test_a_project_whose_images_were_deleted_can_be_deleted(world):
    emptied = make_project("emptied")
    image = Image.objects.create(name="gone", owner=emptied.pk, disk_format="raw", container_format="bare")
    image_services.delete_image(image)
    response = world["admin"]("delete", f"/projects/{emptied.id}")
    assert response.status_code == 204, response.content
    assert not Project.objects.filter(pk=emptied.pk).exists()


def test_a_user_changes_their_own_password_with_the_current_one(world):
    mia, member = world["mia"], world["member"]
    path = f"/users/{mia.pk}/password"
    wrong = member("post", path, {"user": {"original_password": "nope", "password": "An-other-pass-99"}})
    assert wrong.status_code == 401 and Token.objects.filter(user=mia).exists()
    other = world["admin"]("post", path, {"user": {"original_password": PASSWORD, "password": "Xx-99-pass"}})
    assert other.status_code == 403
    done = member("post", path, {"user": {"original_password": PASSWORD, "password": "An-other-pass-99"}})
    assert done.status_code == 204
    mia.refresh_from_db()
    assert mia.check_password("An-other-pass-99") and not Token.objects.filter(user=mia).exists()
    assert member("get", f"/users/{mia.pk}").status_code == 401


def test_a_password_change_without_the_new_password_is_a_400_and_changes_nothing(world):
    mia, member = world["mia"], world["member"]
    path = f"/users/{mia.pk}/password"
    for body in ({"original_password": PASSWORD}, {"original_password": PASSWORD, "password": None}):
        response = member("post", path, {"user": body})
        assert response.status_code == 400
        assert "a new password is required" in response.json()["error"]["message"]
    missing = member("post", path, {"user": {"password": "An-other-pass-99"}})
    assert missing.status_code == 400
    mia.refresh_from_db()
    assert mia.check_password(PASSWORD) and Token.objects.filter(user=mia).exists()


def test_repeated_wrong_current_passwords_lock_the_user_out(world, settings):
    mia, member = world["mia"], world["member"]
    path = f"/users/{mia.pk}/password"
    wrong = {"user": {"original_password": "nope", "password": "An-other-pass-99"}}
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert member("post", path, wrong).status_code == 401
    assert member("post", path, wrong).status_code == 429  # the failure that reaches the limit locks
    # Locked out: even the right current password no longer changes it.
    right = member("post", path, {"user": {"original_password": PASSWORD, "password": "An-other-pass-99"}})
    assert right.status_code == 429
    mia.refresh_from_db()
    assert mia.check_password(PASSWORD)


def test_service_names_are_reserved_and_the_service_identity_is_left_alone(world, client):
    call = world["admin"]
    refused = call("post", "/users", {"user": {"name": "Compute", "password": "a-long-secret-9"}})
    assert refused.status_code == 400 and "reserved" in refused.json()["error"]["message"]
    mia = world["mia"]
    assert call("patch", f"/users/{mia.id}", {"user": {"name": "compute"}}).status_code == 400
    assert call("post", "/projects", {"project": {"name": "service"}}).status_code == 400
    assert call("patch", f"/projects/{world['home'].id}", {"project": {"name": "SERVICE"}}).status_code == 400

    user, project = service_identity(COMPUTE_USER)
    assert user.service and project.service and not user.has_usable_password()
    changed = call("patch", f"/users/{user.id}", {"user": {"password": "a-long-secret-9"}})
    assert changed.status_code == 409
    assert call("delete", f"/users/{user.id}").status_code == 409
    assert call("delete", f"/projects/{project.id}").status_code == 409
    # Even given a password behind the API's back, it does not sign in with one.
    user.set_password("a-long-secret-9")
    user.save()
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "compute", "domain": {"name": "Default"}, "password": "a-long-secret-9"}
                },
            }
        }
    }
    signed_in = client.post(f"{V3}/auth/tokens", data=json.dumps(body), content_type="application/json")
    assert signed_in.status_code == 401
    signed_in = client.post("/auth/login/", {"username": "compute", "password": "a-long-secret-9"})
    assert signed_in.status_code == 200 and "_auth_user_id" not in client.session
