"""A live stack for imports (URL imports allowed from a local test server, short leases, a beat),
and the test web server that plays the remote side."""

from __future__ import annotations

import http.server
import os
import threading
import uuid
from pathlib import Path

import requests

from tests.plugin import TEST_ROOT
from tests.support.processes import BIN, LiveStack, Service, free_port
from tests.support.wait import wait_for


class RemoteFiles:
    """Serves files from a directory. Under /hold/ it sends the first MiB, then waits for release()."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        redirect_to: str = "http://10.0.0.1/image",
    ):
        self.root, self.host = root, host
        self.port = port or free_port()
        self.holding = threading.Event()
        self.released = threading.Event()
        self.requests: list[str] = []
        self.hosts: list[str] = []  # the Host header of each request
        server_self = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server_self.requests.append(self.path)
                server_self.hosts.append(self.headers.get("Host", ""))
                if self.path.endswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    return
                hold = self.path.startswith("/hold/")
                path = server_self.root / self.path.rsplit("/", 1)[-1]
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    if hold and not server_self.released.is_set():
                        self.wfile.write(data[: 1 << 20])
                        self.wfile.flush()
                        server_self.holding.set()
                        server_self.released.wait(120)
                        self.wfile.write(data[1 << 20 :])
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker that asked was killed

        self.server = http.server.ThreadingHTTPServer((host, self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str, hold: bool = False) -> str:
        return f"http://{self.host}:{self.port}/{'hold' if hold else 'files'}/{name}"

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def start_import_stack(remote: RemoteFiles, **extra_env: str) -> LiveStack:
    stack = LiveStack(
        TEST_ROOT / f"import-{uuid.uuid4().hex[:8]}",
        extra_env={
            "STRATUS_IMAGE_IMPORT_ALLOWED_NETWORKS": "127.0.0.0/8",
            "STRATUS_IMAGE_IMPORT_ALLOWED_PORTS": str(remote.port),
            "STRATUS_IMAGE_IMPORT_LEASE": "4",
            "STRATUS_IMAGE_SWEEP_INTERVAL": "1",
            **extra_env,
        },
    )
    stack.start()
    stack.services["beat"] = Service(
        "beat",
        [str(BIN / "celery"), "-A", "dashboard", "beat", "--loglevel", "INFO",
         "--schedule", str(stack.data_dir / "celerybeat-schedule")],
        env=stack.env,
        cwd=Path(__file__).resolve().parents[2],
        log=stack.root / "beat.log",
    )  # fmt: skip
    return stack


# A project-scoped API token of a user on the stack (Keystone password auth).
token = LiveStack.token


def image_status(stack: LiveStack, tok: str, image_id: str) -> dict:
    response = requests.get(
        f"{stack.url}/image/v2/images/{image_id}", headers={"X-Auth-Token": tok}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def wait_until_settled(stack: LiveStack, tok: str, image_id: str, timeout: float = 90) -> dict:
    settled = ("active", "killed", "queued")
    return wait_for(
        lambda: (img := image_status(stack, tok, image_id))["status"] in settled and img,
        timeout=timeout,
        what=f"image {image_id} to leave its transitional state",
    )


def glance_env(stack: LiveStack, tok: str, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(HOME=str(home), OS_IMAGE_URL=f"{stack.url}/image", OS_AUTH_TOKEN=tok)
    return env
