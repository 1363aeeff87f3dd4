from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import issue_token, make_project, make_user
from tests.support.processes import require

PATCH = "application/openstack-images-v2.1-json-patch"


@dataclass
class Api:
    """The Django test client speaking Glance v2 with one user's token."""

    client: Client
    token: str
    project: object
    user: object

    def _headers(self, extra):
        return {"HTTP_X_AUTH_TOKEN": self.token, **extra}

    def get(self, path, **extra):
        return self.client.get(f"/image{path}", **self._headers(extra))

    def post(self, path, body=None, **extra):
        return self.client.post(
            f"/image{path}", json.dumps(body or {}), content_type="application/json", **self._headers(extra)
        )

    def patch(self, path, ops, content_type=PATCH, **extra):
        return self.client.patch(
            f"/image{path}", json.dumps(ops), content_type=content_type, **self._headers(extra)
        )

    def put(self, path, data=b"", content_type="application/octet-stream", **extra):
        return self.client.put(f"/image{path}", data, content_type=content_type, **self._headers(extra))

    def delete(self, path, **extra):
        return self.client.delete(f"/image{path}", **self._headers(extra))

    def create(self, **fields):
        body = {"name": "img", "disk_format": "qcow2", "container_format": "bare", **fields}
        response = self.post("/v2/images", body)
        assert response.status_code == 201, response.content
        return response.json()

    def upload(self, image_id, data: bytes, **extra):
        return self.put(f"/v2/images/{image_id}/file", data, **extra)


def api_for(project, role: str) -> Api:
    user = make_user(roles={project: role})
    return Api(Client(), issue_token(user, project), project, user)


@pytest.fixture
def project():
    return make_project()


@pytest.fixture
def member(project) -> Api:
    return api_for(project, "member")


@pytest.fixture
def reader(project) -> Api:
    return api_for(project, "reader")


@pytest.fixture
def admin() -> Api:
    return api_for(make_project(), "admin")


@pytest.fixture
def other() -> Api:
    return api_for(make_project(), "member")


@pytest.fixture
def stores_dir(settings, tmp_path) -> Path:
    """Each test gets its own filesystem store and staging directory."""
    from images.stores import all_stores

    settings.IMAGE_STORES = {"file": {"type": "filesystem", "path": str(tmp_path / "store")}}
    settings.IMAGE_DEFAULT_STORE = "file"
    settings.IMAGE_STAGING_DIR = tmp_path / "staging"
    all_stores.cache_clear()
    all_stores()
    yield tmp_path
    all_stores.cache_clear()


def qemu_img(*args: str) -> None:
    subprocess.run([require("qemu-img"), *args], check=True, capture_output=True)


@pytest.fixture
def qcow2(tmp_path) -> bytes:
    path = tmp_path / "small.qcow2"
    qemu_img("create", "-f", "qcow2", str(path), "16M")
    return path.read_bytes()
