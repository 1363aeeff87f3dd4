"""Keystone v3 application credentials: create (secret once, kept as a hash), list, show, delete,
and the application_credential auth method, with expiry, deletion and the owner-only policy."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import ApplicationCredential, Token
from tests.factories import issue_token, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    project = make_project("demo")
    other = make_project("other")
    alice = make_user("alice", roles={project: "member", other: "member"})
    bob = make_user("bob", roles={project: "member"})
    return project, alice, bob


def call(client, method: str, path: str, token: str, body=None):
    kwargs = {"HTTP_X_AUTH_TOKEN": token}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(f"/identity/v3{path}", **kwargs)


def create(client, user, token, **fields):
    body = {"application_credential": {"name": "ci", **fields}}
    return call(client, "post", f"/users/{user.id}/application_credentials", token, body)


def auth(client, ref: dict, scope=None):
    body = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": ref}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return client.post("/identity/v3/auth/tokens", data=json.dumps(body), content_type="application/json")


def test_a_member_creates_a_credential_whose_secret_is_shown_once_and_kept_as_a_hash(client, world):
    project, alice, _ = world
    token = issue_token(alice, project)
    response = create(client, alice, token, description="for CI", roles=[{"name": "reader"}])
    assert response.status_code == 201, response.content
    body = response.json()["application_credential"]
    secret = body["secret"]
    assert body["project_id"] == project.id and body["user_id"] == alice.id
    assert [r["name"] for r in body["roles"]] == ["reader"]
    assert body["unrestricted"] is False and body["expires_at"] is None
    row = ApplicationCredential.objects.get(id=body["id"])
    assert secret not in row.secret_hash and len(secret) >= 40

    shown = call(client, "get", f"/users/{alice.id}/application_credentials/{row.id}", token).json()
    assert "secret" not in shown["application_credential"]
    listed = call(client, "get", f"/users/{alice.id}/application_credentials?name=ci", token).json()
    assert [c["id"] for c in listed["application_credentials"]] == [row.id]
    assert "secret" not in listed["application_credentials"][0]


def test_the_credential_authenticates_by_id_or_by_name_and_user_with_only_its_roles(client, world):
    project, alice, _ = world
    token = issue_token(alice, project)
    body = create(client, alice, token, roles=[{"name": "reader"}]).json()["application_credential"]

    by_id = auth(client, {"id": body["id"], "secret": body["secret"]})
    assert by_id.status_code == 201, by_id.content
    issued = by_id.json()["token"]
    assert issued["methods"] == ["application_credential"]
    assert issued["project"]["id"] == project.id
    assert [r["name"] for r in issued["roles"]] == ["reader"]
    assert issued["application_credential"] == {"id": body["id"], "name": "ci", "restricted": True}

    by_name = auth(client, {"name": "ci", "secret": body["secret"], "user": {"name": "alice"}})
    assert by_name.status_code == 201
    # A reader may look but not create: the token carries the credential's roles only.
    raw = by_name["X-Subject-Token"]
    assert call(client, "get", "/auth/catalog", raw).status_code == 200

    assert auth(client, {"id": body["id"], "secret": "wrong"}).status_code == 401
    other = make_project("elsewhere")
    scope = {"project": {"id": other.id}}
    assert auth(client, {"id": body["id"], "secret": body["secret"]}, scope).status_code == 401


def test_roles_the_user_does_not_hold_and_past_expiry_are_refused(client, world):
    project, alice, _ = world
    token = issue_token(alice, project)
    response = create(client, alice, token, roles=[{"name": "admin"}])
    assert response.status_code == 403
    assert "admin" in response.json()["error"]["message"]
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    response = create(client, alice, token, expires_at=past)
    assert response.status_code == 400 and "future" in response.json()["error"]["message"]
    response = create(client, alice, token, expires_at="next tuesday")
    assert response.status_code == 400
    assert create(client, alice, token).status_code == 201
    assert create(client, alice, token).status_code == 409
    assert ApplicationCredential.objects.count() == 1


def test_an_expired_credential_is_refused_and_its_token_ends_with_it(client, world):
    project, alice, _ = world
    token = issue_token(alice, project)
    soon = (timezone.now() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    body = create(client, alice, token, expires_at=soon).json()["application_credential"]
    issued = auth(client, {"id": body["id"], "secret": body["secret"]})
    assert issued.status_code == 201
    cred = ApplicationCredential.objects.get(id=body["id"])
    assert Token.objects.get(id=Token.digest(issued["X-Subject-Token"])).expires_at <= cred.expires_at

    ApplicationCredential.objects.filter(id=cred.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert auth(client, {"id": body["id"], "secret": body["secret"]}).status_code == 401


def test_deleting_a_credential_ends_its_tokens_at_once(client, world):
    project, alice, _ = world
    token = issue_token(alice, project)
    body = create(client, alice, token, unrestricted=True).json()["application_credential"]
    raw = auth(client, {"id": body["id"], "secret": body["secret"]})["X-Subject-Token"]
    assert call(client, "get", "/auth/catalog", raw).status_code == 200

    deleted = call(client, "delete", f"/users/{alice.id}/application_credentials/{body['id']}", token)
    assert deleted.status_code == 204
    assert call(client, "get", "/auth/catalog", raw).status_code == 401
    assert auth(client, {"id": body["id"], "secret": body["secret"]}).status_code == 401
    assert not ApplicationCredential.objects.exists()


def test_a_user_manages_only_their_own_credentials(client, world):
    project, alice, bob = world
    body = create(client, alice, issue_token(alice, project)).json()["application_credential"]
    bob_token = issue_token(bob, project)
    path = f"/users/{alice.id}/application_credentials"
    assert call(client, "get", path, bob_token).status_code == 404
    assert call(client, "get", f"{path}/{body['id']}", bob_token).status_code == 404
    assert call(client, "delete", f"{path}/{body['id']}", bob_token).status_code == 404
    assert create(client, alice, bob_token).status_code == 404
    # Bob's own list is empty, and his id with Alice's credential finds nothing.
    own = call(client, "get", f"/users/{bob.id}/application_credentials", bob_token).json()
    assert own["application_credentials"] == []
    assert (
        call(client, "delete", f"/users/{bob.id}/application_credentials/{body['id']}", bob_token).status_code
        == 404
    )
    assert ApplicationCredential.objects.filter(id=body["id"]).exists()


def test_a_restricted_credential_cannot_make_or_remove_credentials(client, world):
    project, alice, _ = world
    body = create(client, alice, issue_token(alice, project)).json()["application_credential"]
    raw = auth(client, {"id": body["id"], "secret": body["secret"]})["X-Subject-Token"]
    refused = create(client, alice, raw, name="another")
    assert refused.status_code == 403
    path = f"/users/{alice.id}/application_credentials/{body['id']}"
    assert call(client, "delete", path, raw).status_code == 403
    assert ApplicationCredential.objects.count() == 1


def test_a_credential_stops_when_its_user_loses_a_role_it_carries(client, world):
    project, alice, _ = world
    body = create(client, alice, issue_token(alice, project)).json()["application_credential"]
    raw = auth(client, {"id": body["id"], "secret": body["secret"]})["X-Subject-Token"]
    alice.assignments.filter(project=project).delete()
    assert call(client, "get", "/auth/catalog", raw).status_code == 401
    assert auth(client, {"id": body["id"], "secret": body["secret"]}).status_code == 401
