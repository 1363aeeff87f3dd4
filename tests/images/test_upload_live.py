"""Uploads through gunicorn: bodies read straight from the socket must leave the connection usable
for the next request, and a web process killed in the middle of PUT /stage must not leave the
image stuck in uploading (the sweeper requeues it and removes the partial file)."""

from __future__ import annotations

import hashlib
import os
import signal
import socket

import pytest
import requests

from tests.images.live_support import RemoteFiles, image_status, start_import_stack, token
from tests.support.processes import DEMO_PASSWORD
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_database):
    remote = RemoteFiles(tmp_path_factory.mktemp("remote"))
    stack = start_import_stack(remote, STRATUS_IMAGE_UPLOAD_STALL_TIMEOUT="3", STRATUS_WEB_WORKERS="1")
    try:
        yield stack
    finally:
        stack.stop()
        remote.stop()


@pytest.fixture(scope="module")
def tok(stack):
    return token(stack, "demo", DEMO_PASSWORD, "demo")


def create(session, stack, **fields) -> str:
    body = {"name": "live", "disk_format": "raw", "container_format": "bare", **fields}
    response = session.post(f"{stack.url}/image/v2/images", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_uploads_with_content_length_keep_the_connection_usable(stack, tok):
    session = requests.Session()
    session.headers["X-Auth-Token"] = tok
    for size in (5 * 1024 * 1024 + 3, 1, 9 * 1024 * 1024):
        data = os.urandom(size)
        image_id = create(session, stack)
        response = session.put(
            f"{stack.url}/image/v2/images/{image_id}/file",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=60,
        )
        assert response.status_code == 204, response.text
        # The same keep-alive connection serves the next request: gunicorn's body count is in step.
        shown = session.get(f"{stack.url}/image/v2/images/{image_id}", timeout=30).json()
        assert shown["status"] == "active" and shown["size"] == size
        assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
        assert shown["checksum"] == hashlib.md5(data).hexdigest()
        download = session.get(f"{stack.url}/image/v2/images/{image_id}/file", timeout=60)
        assert download.content == data


def test_a_web_process_killed_mid_stage_is_swept_back_to_queued(stack, tok):
    session = requests.Session()
    session.headers["X-Auth-Token"] = tok
    image_id = create(session, stack)
    staged = stack.data_dir / "staging" / image_id
    # A client that announces 64 MiB, sends 2 MiB and keeps the request open.
    client = socket.create_connection(("127.0.0.1", stack.port))
    head = (
        f"PUT /image/v2/images/{image_id}/stage HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-Auth-Token: {tok}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {64 << 20}\r\n\r\n"
    )
    client.sendall(head.encode() + b"\0" * (2 << 20))
    try:
        wait_for(
            lambda: image_status(stack, tok, image_id)["status"] == "uploading" and staged.exists(),
            timeout=30,
            what="the stage upload to be under way",
        )
        stack.services["web"].kill(signal.SIGKILL)
        wait_for(lambda: not stack.services["web"].alive(), timeout=10, what="gunicorn to die")
    finally:
        client.close()
    stack.start_web()
    image = wait_for(
        lambda: (img := image_status(stack, tok, image_id))["status"] == "queued" and img,
        timeout=60,
        what="the sweeper to requeue the stalled upload",
    )
    assert "stalled" in image.get("os_glance_failed_import", "")
    assert not staged.exists()
    # And it can be staged again.
    response = session.put(
        f"{stack.url}/image/v2/images/{image_id}/stage",
        data=b"\1" * 4096,
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code == 204 and staged.stat().st_size == 4096
