"""The users of bench/load.py, run by locust in its own process (gevent): uploaders, launchers and
people listing. bench/load.py passes the stack's address, a token and the ids through the
environment; it starts this with ``locust --headless``.

  * Uploader (STRATUS_LOAD_UPLOADS of them, uploading over and over for the whole run, so that
    uploads are in flight whenever a process dies): create an image, PUT its bytes (a file
    streamed from disk).
  * Launcher (STRATUS_LOAD_LAUNCHES, each once, at a random moment of the first
    STRATUS_LOAD_LAUNCH_SPREAD seconds): POST /servers with the bench image and flavor.
  * Lister (STRATUS_LOAD_LISTERS): the Images and Servers lists over and over, as the dashboard and
    the CLI poll them.
"""

from __future__ import annotations

import os
import random
import time

from locust import HttpUser, between, constant, task

TOKEN = os.environ.get("STRATUS_LOAD_TOKEN", "")
IMAGE = os.environ.get("STRATUS_LOAD_IMAGE", "")
FLAVOR = os.environ.get("STRATUS_LOAD_FLAVOR", "")
UPLOAD_FILE = os.environ.get("STRATUS_LOAD_UPLOAD_FILE", "")
LAUNCH_SPREAD = float(os.environ.get("STRATUS_LOAD_LAUNCH_SPREAD", "0"))
HEADERS = {"X-Auth-Token": TOKEN, "OpenStack-API-Version": "compute 2.96"}


class Uploader(HttpUser):
    fixed_count = int(os.environ.get("STRATUS_LOAD_UPLOADS", "50"))
    wait_time = between(0.5, 2.0)

    @task
    def upload(self) -> None:
        created = self.client.post(
            "/image/v2/images",
            json={"name": "load-upload", "disk_format": "raw", "container_format": "bare"},
            headers=HEADERS,
            name="POST /v2/images",
        )
        if created.status_code == 201:
            with open(UPLOAD_FILE, "rb") as data:
                self.client.put(
                    f"/image/v2/images/{created.json()['id']}/file",
                    data=data,
                    headers={**HEADERS, "Content-Type": "application/octet-stream"},
                    name="PUT /v2/images/{id}/file",
                )


class Launcher(HttpUser):
    fixed_count = int(os.environ.get("STRATUS_LOAD_LAUNCHES", "20"))
    wait_time = constant(0)

    @task
    def launch(self) -> None:
        # The launch moment is part of the load's shape (gevent makes this sleep cooperative).
        time.sleep(random.uniform(0, LAUNCH_SPREAD))
        self.client.post(
            "/compute/v2.1/servers",
            json={
                "server": {"name": "load-launch", "imageRef": IMAGE, "flavorRef": FLAVOR, "networks": "none"}
            },
            headers=HEADERS,
            name="POST /servers",
        )
        self.stop()


class Lister(HttpUser):
    fixed_count = int(os.environ.get("STRATUS_LOAD_LISTERS", "5"))
    wait_time = between(0.2, 1.0)

    @task(2)
    def images(self) -> None:
        self.client.get("/image/v2/images?limit=50", headers=HEADERS, name="GET /v2/images")

    @task(1)
    def servers(self) -> None:
        self.client.get("/compute/v2.1/servers/detail?limit=50", headers=HEADERS, name="GET /servers/detail")
