"""Imports through a real Redis and real Celery workers: glanceclient's import methods, and a
worker killed in the middle of an import."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess

import pytest
import requests

from tests.images.live_support import RemoteFiles, glance_env, start_import_stack, token, wait_until_settled
from tests.support.processes import BIN, DEMO_PASSWORD, require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    server = RemoteFiles(tmp_path_factory.mktemp("remote"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(remote, stack_database):
    stack = start_import_stack(remote)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def demo_token(stack):
    return token(stack, "demo", DEMO_PASSWORD, "demo")


def make_qcow2(path, size="32M"):
    subprocess.run(
        [require("qemu-img"), "create", "-f", "qcow2", str(path), size], check=True, capture_output=True
    )
    return path.read_bytes()


def _close_stdin() -> None:
    os.close(0)


def glance(stack, tok, home, *args, stdin_file=None):
    """glanceclient reads image data from a non-tty stdin, so stdin is the file or closed."""
    with open(stdin_file, "rb") if stdin_file else contextlib.nullcontext() as fh:
        result = subprocess.run(
            [str(BIN / "glance"), *args],
            env=glance_env(stack, tok, home),
            capture_output=not fh,
            stdout=subprocess.PIPE if fh else None,
            stderr=subprocess.PIPE if fh else None,
            stdin=fh,
            preexec_fn=None if fh else _close_stdin,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, f"glance {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _id_from(output: str) -> str:
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 2 and cells[1] == "id":
            return cells[2]
    raise AssertionError(f"no id in:\n{output}")


def test_glance_direct_import_with_glanceclient_ends_active(stack, demo_token, tmp_path):
    data = make_qcow2(tmp_path / "direct.qcow2")
    out = glance(
        stack, demo_token, tmp_path, "image-create-via-import", "--name", "direct", "--disk-format", "qcow2",
        "--container-format", "bare", "--import-method", "glance-direct",
        stdin_file=tmp_path / "direct.qcow2",
    )  # fmt: skip
    image = wait_until_settled(stack, demo_token, _id_from(out))
    assert image["status"] == "active", image
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert not list((stack.data_dir / "staging").iterdir())


def test_web_download_import_with_glanceclient_ends_active(stack, remote, demo_token, tmp_path):
    data = make_qcow2(remote.root / "web.qcow2")
    out = glance(
        stack, demo_token, tmp_path, "image-create-via-import", "--name", "web", "--disk-format", "qcow2",
        "--container-format", "bare", "--import-method", "web-download",
        "--uri", remote.url("web.qcow2"),
    )  # fmt: skip
    image = wait_until_settled(stack, demo_token, _id_from(out))
    assert image["status"] == "active", image
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["size"] == len(data)


def test_a_worker_killed_mid_import_leaves_no_stuck_image_and_no_staging_file(
    stack, remote, demo_token, tmp_path
):
    data = make_qcow2(remote.root / "slow.qcow2", "64M")
    # Fill the file past the first MiB so the import is held with data half sent.
    with open(remote.root / "slow.qcow2", "ab") as fh:
        fh.write(b"\0" * (4 << 20))
    data = (remote.root / "slow.qcow2").read_bytes()
    out = glance(
        stack, demo_token, tmp_path, "image-create-via-import", "--name", "slow", "--disk-format", "qcow2",
        "--container-format", "bare", "--import-method", "web-download",
        "--uri", remote.url("slow.qcow2", hold=True),
    )  # fmt: skip
    image_id = _id_from(out)
    wait_for(remote.holding.is_set, timeout=60, what="the worker to be mid-download")
    stack.services["worker"].kill(signal.SIGKILL)
    wait_for(lambda: not stack.services["worker"].alive(), timeout=10, what="the worker to die")
    stack.start_worker("worker2")
    remote.released.set()
    image = wait_until_settled(stack, demo_token, image_id, timeout=120)
    assert image["status"] in ("active", "killed"), image
    if image["status"] == "active":
        assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    staging = stack.data_dir / "staging"
    assert not [p for p in staging.iterdir() if p.name.startswith(image_id)]
    assert "images.import_image" in stack.log("worker2")


def test_a_changed_http_location_reaches_the_client_as_a_broken_transfer(stack, remote, demo_token):
    data = os.urandom(10 << 20)  # several chunks of the pipeline (4 MiB)
    (remote.root / "kept-remote.raw").write_bytes(data)
    headers = {"X-Auth-Token": demo_token}
    images = f"{stack.url}/image/v2/images"
    body = {"name": "remote", "disk_format": "raw", "container_format": "bare"}
    image_id = requests.post(images, json=body, headers=headers, timeout=30).json()["id"]
    location = {
        "url": remote.url("kept-remote.raw"),
        "validation_data": {"os_hash_algo": "sha512", "os_hash_value": hashlib.sha512(data).hexdigest()},
    }
    response = requests.post(f"{images}/{image_id}/locations", json=location, headers=headers, timeout=30)
    assert response.status_code == 202, response.text
    assert wait_until_settled(stack, demo_token, image_id)["status"] == "active"
    # The remote server now serves something else under the same URL, of the same length.
    (remote.root / "kept-remote.raw").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    received = bytearray()
    with requests.get(f"{images}/{image_id}/file", headers=headers, stream=True, timeout=60) as download:
        assert download.status_code == 200 and download.headers["Content-Length"] == str(len(data))
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in download.iter_content(65536):
                received += chunk
    assert 0 < len(received) < len(data)  # data flowed, but the client never got a complete file
    again = requests.get(f"{images}/{image_id}/file", headers=headers, timeout=30)
    assert again.status_code == 409 and "failed an integrity check" in again.json()["message"]
