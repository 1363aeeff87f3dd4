"""Keystone v3 compatibility: discovery, tokens, catalog and the error bodies clients expect."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import Role, Token
from tests.factories import PASSWORD, issue_token, make_project, make_user

pytestmark = pytest.mark.django_db


def auth_body(username: str, password: str, project: str | None = "demo", *, by_id: bool = False) -> dict:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": username, "domain": {"name": "Default"}, "password": password}},
            }
        }
    }
    if project is not None:
        ref = {"id": project} if by_id else {"name": project, "domain": {"name": "Default"}}
        body["auth"]["scope"] = {"project": ref}
    return body


def post_token(client, body) -> object:
    return client.post("/identity/v3/auth/tokens", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def demo():
    project = make_project("demo")
    user = make_user("alice", roles={project: "member"})
    return project, user


def test_keystones_default_roles_exist_and_a_manager_is_a_member_and_reader_but_no_admin(client):
    assert set(Role.objects.values_list("name", flat=True)) >= {"admin", "manager", "member", "reader"}
    project = make_project("team")
    make_user("mona", roles={project: "manager"})
    make_user("root", roles={project: "admin"})
    manager = post_token(client, auth_body("mona", PASSWORD, "team")).json()["token"]
    assert {r["name"] for r in manager["roles"]} == {"manager", "member", "reader"}
    admin = post_token(client, auth_body("root", PASSWORD, "team")).json()["token"]
    assert {r["name"] for r in admin["roles"]} == {"admin", "manager", "member", "reader"}


def test_unversioned_identity_root_answers_300_with_the_values_nesting(client):
    response = client.get("/identity")
    assert response.status_code == 300
    (version,) = response.json()["versions"]["values"]
    assert version["id"].startswith("v3.") and version["links"][0]["href"].endswith("/identity/v3/")


def test_v3_version_document_is_200(client):
    response = client.get("/identity/v3")
    assert response.status_code == 200
    assert (
        response.json()["version"]["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"
    )


def test_password_auth_scoped_by_name_returns_a_token_with_catalog(client, demo):
    project, user = demo
    response = post_token(client, auth_body("alice", PASSWORD, "demo"))
    assert response.status_code == 201
    raw = response["X-Subject-Token"]
    token = response.json()["token"]
    assert token["user"]["name"] == "alice" and token["project"]["id"] == project.id
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    assert token["expires_at"].endswith("Z")
    types = {entry["type"]: entry["endpoints"][0]["url"] for entry in token["catalog"]}
    assert types["image"] == "http://testserver/image"
    assert types["compute"] == "http://testserver/compute/v2.1"
    assert types["identity"] == "http://testserver/identity"
    assert types["volumev3"] == types["block-storage"] == f"http://testserver/volume/v3/{project.id}"
    # Tokens never start with "-", which a command line would read as an option.
    assert raw.startswith("st")
    # Only a hash of the token is kept.
    assert not Token.objects.filter(id=raw).exists()
    assert Token.objects.filter(id=Token.digest(raw), user=user).exists()


def test_password_auth_scoped_by_project_id(client, demo):
    project, _ = demo
    response = post_token(client, auth_body("alice", PASSWORD, project.id, by_id=True))
    assert response.status_code == 201
    assert response.json()["token"]["project"]["name"] == "demo"


def test_token_method_rescopes_and_keeps_the_original_expiry(client, demo):
    project, user = demo
    other = make_project("other")
    user.assignments.create(project=other, role=Role.objects.get(name="reader"))
    first = post_token(client, auth_body("alice", PASSWORD, "demo"))
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": first["X-Subject-Token"]}},
            "scope": {"project": {"name": "other", "domain": {"name": "Default"}}},
        }
    }
    second = post_token(client, body)
    assert second.status_code == 201
    assert second.json()["token"]["project"]["name"] == "other"
    assert second.json()["token"]["expires_at"] == first.json()["token"]["expires_at"]
    assert second.json()["token"]["methods"] == ["password", "token"]


@pytest.mark.parametrize(
    "body",
    [
        auth_body("alice", "wrong-password"),
        auth_body("nobody", PASSWORD),
        auth_body("alice", PASSWORD, "no-such-project"),
        {
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {"id": "x", "secret": "y"},
                }
            }
        },
    ],
    ids=["wrong-password", "unknown-user", "unknown-project", "unsupported-method"],
)
def test_bad_credentials_get_401_with_the_keystone_error_body(client, demo, body):
    response = post_token(client, body)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == 401 and error["title"] == "Unauthorized" and error["message"]
    assert not Token.objects.exists()


def test_a_project_without_a_role_is_401(client, demo):
    make_project("elsewhere")
    assert post_token(client, auth_body("alice", PASSWORD, "elsewhere")).status_code == 401


@pytest.mark.parametrize("payload", [b"{not json", b"[]", b'{"auth": "x"}', b'{"auth": {"identity": {}}}'])
def test_malformed_requests_are_400(client, payload):
    response = client.post("/identity/v3/auth/tokens", data=payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400


def test_validate_and_revoke_a_token(client, demo):
    project, user = demo
    raw = issue_token(user, project)
    headers = {"HTTP_X_AUTH_TOKEN": raw, "HTTP_X_SUBJECT_TOKEN": raw}
    shown = client.get("/identity/v3/auth/tokens", **headers)
    assert shown.status_code == 200 and shown["X-Subject-Token"] == raw
    assert client.head("/identity/v3/auth/tokens", **headers).status_code == 200
    assert client.delete("/identity/v3/auth/tokens", **headers).status_code == 204
    assert client.get("/identity/v3/auth/catalog", HTTP_X_AUTH_TOKEN=raw).status_code == 401


def test_a_user_cannot_validate_another_users_token(client, demo):
    project, user = demo
    bob = make_user("bob", roles={project: "member"})
    response = client.get(
        "/identity/v3/auth/tokens",
        HTTP_X_AUTH_TOKEN=issue_token(bob, project),
        HTTP_X_SUBJECT_TOKEN=issue_token(user, project),
    )
    assert response.status_code == 403


def test_catalog_needs_a_token(client, demo):
    project, user = demo
    missing = client.get("/identity/v3/auth/catalog")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Keystone uri=")
    assert missing.json()["error"]["code"] == 401
    ok = client.get("/identity/v3/auth/catalog", HTTP_X_AUTH_TOKEN=issue_token(user, project))
    assert ok.status_code == 200
    assert {e["type"] for e in ok.json()["catalog"]} >= {"identity", "image", "compute", "volumev3"}


def test_token_of_a_deleted_user_is_401(client, demo):
    project, user = demo
    raw = issue_token(user, project)
    user.delete()
    assert client.get("/identity/v3/auth/catalog", HTTP_X_AUTH_TOKEN=raw).status_code == 401


def test_token_of_a_disabled_user_is_401(client, demo):
    project, user = demo
    raw = issue_token(user, project)
    user.is_active = False
    user.save()
    assert client.get("/identity/v3/auth/catalog", HTTP_X_AUTH_TOKEN=raw).status_code == 401


def test_expired_token_is_401(client, demo):
    project, user = demo
    raw = issue_token(user, project)
    Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/identity/v3/auth/catalog", HTTP_X_AUTH_TOKEN=raw).status_code == 401


def test_token_stops_working_when_the_last_role_is_removed(client, demo):
    project, user = demo
    raw = issue_token(user, project)
    user.assignments.all().delete()
    assert client.get("/identity/v3/auth/catalog", HTTP_X_AUTH_TOKEN=raw).status_code == 401


def test_project_lookup_by_name_for_members_and_admins(client, demo):
    project, user = demo
    raw = issue_token(user, project)
    by_name = client.get("/identity/v3/projects", {"name": "demo"}, HTTP_X_AUTH_TOKEN=raw)
    assert [p["id"] for p in by_name.json()["projects"]] == [project.id]
    hidden = make_project("hidden")
    assert client.get(f"/identity/v3/projects/{hidden.id}", HTTP_X_AUTH_TOKEN=raw).status_code == 404
    assert client.get("/identity/v3/users", HTTP_X_AUTH_TOKEN=raw).status_code == 403
    admin_project = make_project("admin")
    root = make_user("root", roles={admin_project: "admin"})
    admin_raw = issue_token(root, admin_project)
    assert client.get(f"/identity/v3/projects/{hidden.id}", HTTP_X_AUTH_TOKEN=admin_raw).status_code == 200
    names = {u["name"] for u in client.get("/identity/v3/users", HTTP_X_AUTH_TOKEN=admin_raw).json()["users"]}
    assert {"alice", "root"} <= names


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/identity/v3/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


def test_tokens_on_a_disabled_project_neither_validate_nor_are_valid(client, demo):
    project, user = demo
    other = make_project("other")
    elsewhere = issue_token(make_user("carol", roles={other: "member"}), other)
    raw = issue_token(user, project)
    admin = issue_token(make_user("root", roles={other: "admin"}), other)

    def validate(caller: str, subject: str) -> int:
        headers = {"HTTP_X_AUTH_TOKEN": caller, "HTTP_X_SUBJECT_TOKEN": subject}
        return client.get("/identity/v3/auth/tokens", **headers).status_code

    assert validate(admin, raw) == 200
    project.enabled = False
    project.save()
    assert validate(raw, raw) == 401  # as the caller: refused, as on every other API
    assert validate(admin, raw) == 404  # as the subject: it does not stand
    # Nor can it be exchanged for a new token.
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": raw}}}}
    assert post_token(client, body).status_code == 401
    assert client.get("/identity/v3/auth/catalog", HTTP_X_AUTH_TOKEN=elsewhere).status_code == 200
