"""The compute API as the tests call it: a token-authenticated caller per persona of the RBAC
matrix (the ``world`` fixture, registered by the conftests that need it) and request bodies."""

from __future__ import annotations

import pytest

from tests.factories import issue_token, make_project, make_user


class Caller:
    """A token-authenticated API client for one persona."""

    def __init__(self, client, token: str, project):
        self.client, self.token, self.project = client, token, project

    def _headers(self, version: str | None, extra: dict) -> dict:
        headers = {"HTTP_X_AUTH_TOKEN": self.token, **extra}
        if version:
            headers["HTTP_OPENSTACK_API_VERSION"] = f"compute {version}"
        return headers

    def get(self, path: str, version: str | None = None, **extra):
        return self.client.get(f"/compute/v2.1{path}", **self._headers(version, extra))

    def post(self, path: str, body, version: str | None = None, **extra):
        return self.client.post(
            f"/compute/v2.1{path}", body, content_type="application/json", **self._headers(version, extra)
        )

    def put(self, path: str, body, version: str | None = None, **extra):
        return self.client.put(
            f"/compute/v2.1{path}", body, content_type="application/json", **self._headers(version, extra)
        )

    def delete(self, path: str, version: str | None = None, **extra):
        return self.client.delete(f"/compute/v2.1{path}", **self._headers(version, extra))


@pytest.fixture
def world(db, client):
    """Personas of the RBAC matrix: A admin, M member and R reader of one project, X member of another."""
    home, other, admin_home = make_project("home"), make_project("other"), make_project("ops")
    users = {
        "admin": (make_user("root", roles={admin_home: "admin"}), admin_home),
        "member": (make_user("mia", roles={home: "member"}), home),
        "reader": (make_user("rita", roles={home: "reader"}), home),
        "outsider": (make_user("xavier", roles={other: "member"}), other),
    }
    callers = {
        name: Caller(client, issue_token(user, project), project) for name, (user, project) in users.items()
    }
    return {"home": home, "other": other, "admin_home": admin_home, **callers}


def flavor_body(name: str, /, **fields) -> dict:
    body = {"name": name, "ram": 1024, "vcpus": 2, "disk": 10, "id": None}
    body.update(fields)
    return {"flavor": body}
