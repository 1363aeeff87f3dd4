"""Talking to a live stack's Compute and Image APIs as a real client would (HTTP + token)."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.support.processes import LiveStack, Service
from tests.support.wait import wait_for

MARKER_FLAVOR = {"name": "t.marker", "ram": 128, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 1}


# A project-scoped API token of a user on the stack (Keystone password auth).
token = LiveStack.token


class Cloud:
    def __init__(self, stack: LiveStack, tok: str, version: str = "2.96"):
        self.url, self.tok, self.version = stack.url, tok, version

    def _headers(self, version: str | None = None) -> dict:
        return {"X-Auth-Token": self.tok, "OpenStack-API-Version": f"compute {version or self.version}"}

    def get(self, path: str, version: str | None = None) -> requests.Response:
        return requests.get(f"{self.url}/compute/v2.1{path}", headers=self._headers(version), timeout=60)

    def post(self, path: str, body: dict, version: str | None = None) -> requests.Response:
        return requests.post(
            f"{self.url}/compute/v2.1{path}", json=body, headers=self._headers(version), timeout=60
        )

    def put(self, path: str, body: dict, version: str | None = None) -> requests.Response:
        return requests.put(
            f"{self.url}/compute/v2.1{path}", json=body, headers=self._headers(version), timeout=60
        )

    def delete(self, path: str) -> requests.Response:
        return requests.delete(f"{self.url}/compute/v2.1{path}", headers=self._headers(), timeout=60)

    # -- servers ------------------------------------------------------------------------------

    def create(self, name: str, image_id: str, flavor_id: str, **extra) -> str:
        server = {"name": name, "imageRef": image_id, "flavorRef": flavor_id, "networks": "none", **extra}
        response = self.post("/servers", {"server": server})
        assert response.status_code == 202, response.text
        return response.json()["server"]["id"]

    def server(self, server_id: str) -> dict:
        response = self.get(f"/servers/{server_id}")
        assert response.status_code == 200, response.text
        return response.json()["server"]

    def wait_status(self, server_id: str, status: str, timeout: float = 120, interval: float = 0.1) -> dict:
        def check():
            server = self.server(server_id)
            assert server["status"] != "ERROR" or status == "ERROR", server.get("fault")
            return server["status"] == status and server

        return wait_for(check, timeout=timeout, interval=interval, what=f"server {server_id} to be {status}")

    def action(self, server_id: str, body: dict, version: str | None = None) -> requests.Response:
        response = self.post(f"/servers/{server_id}/action", body, version)
        assert response.status_code in (200, 202), response.text
        return response

    def console(self, server_id: str) -> str:
        return self.action(server_id, {"os-getConsoleOutput": {"length": 50}}).json()["output"]

    def wait_deleted(self, server_id: str, timeout: float = 60) -> None:
        wait_for(
            lambda: self.get(f"/servers/{server_id}").status_code == 404,
            timeout=timeout,
            what=f"server {server_id} to be gone",
        )

    # -- images and flavors -------------------------------------------------------------------

    def upload_image(self, name: str, path: Path, disk_format: str = "raw", **fields) -> str:
        headers = {"X-Auth-Token": self.tok}
        body = {"name": name, "disk_format": disk_format, "container_format": "bare", **fields}
        response = requests.post(f"{self.url}/image/v2/images", json=body, headers=headers, timeout=30)
        assert response.status_code == 201, response.text
        image_id = response.json()["id"]
        with open(path, "rb") as fh:
            put = requests.put(
                f"{self.url}/image/v2/images/{image_id}/file",
                data=fh,
                headers={**headers, "Content-Type": "application/octet-stream"},
                timeout=60,
            )
        assert put.status_code == 204, put.text
        return image_id

    def image(self, image_id: str) -> dict:
        response = requests.get(
            f"{self.url}/image/v2/images/{image_id}", headers={"X-Auth-Token": self.tok}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def ensure_flavor(self, spec: dict = MARKER_FLAVOR) -> str:
        found = [
            f
            for f in self.get("/flavors/detail?is_public=None").json()["flavors"]
            if f["name"] == spec["name"]
        ]
        if found:
            return found[0]["id"]
        response = self.post("/flavors", {"flavor": {**spec, "id": None}}, "2.61")
        assert response.status_code == 200, response.text
        return response.json()["flavor"]["id"]

    def hypervisor(self, name: str) -> dict:
        hosts = self.get("/os-hypervisors/detail", "2.87").json()["hypervisors"]
        return next(h for h in hosts if h["hypervisor_hostname"] == name)


def qemu_pids(uuid: str) -> list[int]:
    """Live QEMU processes started for this instance (by its -uuid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"-uuid" in args and uuid.encode() in args:
                found.append(int(entry.name))
    return found


def start_far_agent(live_stack: LiveStack, host: str, root: Path) -> Service:
    """An agent configured as a compute machine of its own: own data dir (no image store, no
    compute state of the controller's), the controller's database, Redis, key and API URL. The
    volume directory is shared storage, as a volume back end is for every host."""
    env = {
        "STRATUS_DATA_DIR": str(root / "data"),
        "DATABASE_URL": live_stack.env.get("DATABASE_URL")
        or f"sqlite:///{live_stack.data_dir / 'stratus.sqlite3'}",
        "SECRET_KEY": (live_stack.data_dir / "secret_key").read_text().strip(),
        "STRATUS_CONTROLLER_URL": live_stack.url,
        "STRATUS_VOLUMES_DIR": str(live_stack.data_dir / "volumes"),
        "STRATUS_QEMU_ACCEL": "tcg",
    }
    (root / "data").mkdir(parents=True, exist_ok=True)
    return live_stack.start_compute_agent(host, root / "state", "nova", env=env)
