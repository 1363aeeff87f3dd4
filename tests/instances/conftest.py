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


# --- compute: a fake-driver host in this process, a real image in a real filesystem store -----


@pytest.fixture
def stores_dir(settings, tmp_path):
    from images.stores import all_stores

    settings.IMAGE_STORES = {"file": {"type": "filesystem", "path": str(tmp_path / "store")}}
    settings.IMAGE_DEFAULT_STORE = "file"
    settings.IMAGE_STAGING_DIR = tmp_path / "staging"
    all_stores.cache_clear()
    yield tmp_path
    all_stores.cache_clear()


def make_host(tmp_path, name: str = "host1", zone: str = "nova", **overrides):
    """A registered compute host driven by the fake driver, with its manager."""
    from instances.compute import agent
    from instances.compute.manager import ComputeManager
    from instances.virt.fake import FakeDriver

    state = tmp_path / f"state-{name}"
    manager = ComputeManager(name, FakeDriver(state), state)
    agent.register(manager, zone, overrides or {"vcpus": 8, "memory_mb": 4096, "disk_gb": 100})
    return manager


@pytest.fixture
def host(db, tmp_path, settings):
    settings.VIRT_DRIVER = "fake"
    return make_host(tmp_path)


def upload_image(owner, data: bytes, *, disk_format: str = "raw", **fields):
    """An active image, created and uploaded through the image service's own pipeline."""
    from images import services as image_services
    from images.pipeline.upload import upload

    values = {"name": "marker", "disk_format": disk_format, "container_format": "bare"}
    values.update(fields)
    properties = values.pop("properties", {})
    image = image_services.create_image(owner, values, properties, [])
    upload(image, [data], len(data))
    image.refresh_from_db()
    return image


@pytest.fixture
def marker_bytes(tmp_path) -> bytes:
    from tests.instances.bootimage import build_boot_image

    return build_boot_image(tmp_path / "marker.raw", "STRATUS-MARKER unit").read_bytes()


@pytest.fixture
def image(world, stores_dir, marker_bytes):
    return upload_image(world["home"].pk, marker_bytes, visibility="public")


@pytest.fixture
def tiny(db):
    from flavors import services

    return services.create_flavor(name="t.tiny", vcpus=1, ram=128, disk=1, ephemeral=1, swap=16)


class Deliver:
    """Runs the compute tasks a request enqueued (captured on-commit callbacks), in this process,
    on the named hosts' managers: what the host's agent would do with each message."""

    def __init__(self, *managers):
        self.managers = {m.host_name: m for m in managers}

    def __call__(self, callbacks) -> list[str]:
        ran = []
        for callback in callbacks:
            name, args, queue = callback.args[0], callback.keywords["args"], callback.keywords["queue"]
            manager = self.managers[queue.removeprefix("compute.")]
            method = name.removeprefix("instances.")
            if method == "console_output":
                continue
            getattr(manager, method)(*args)
            ran.append(name)
        return ran
