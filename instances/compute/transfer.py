"""Disk transfer between compute hosts that share no file system (cold migration).

The old host sets an instance's disks aside under ``<state_dir>/resize/<uuid>`` and hashes each
file it will hand over (``manifest``). Its agent serves that directory read-only over HTTP on
STRATUS_COMPUTE_TRANSFER_LISTEN (the URL other hosts use, STRATUS_COMPUTE_TRANSFER_ADDRESS, is in
its host's capabilities). The new host asks for each file with a request signed by the shared
SECRET_KEY (HMAC-SHA256 over the instance, the file name and an expiry a few minutes ahead); the
old host serves only what it set aside for a move in progress (it prunes the others). The new host streams
the body to a temporary file while hashing it, compares size and sha512 with the manifest, and
only then renames it into place: a truncated or altered transfer is refused, never used.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.conf import settings

from instances.virt.base import VirtError

log = logging.getLogger(__name__)
QUERY_RE = re.compile(r"\?[^\s\"']*")

CHUNK = 4 * 1024 * 1024
# What a new host needs from the old one: the root overlay and the ephemeral disk. Swap and the
# config drive are made new; the base image comes from the new host's own image cache.
FILES = ("disk", "disk.eph0")
SIGNATURE_TTL = 600
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class TransferFailed(VirtError):
    """A disk could not be fetched from the old host, or arrived different from its manifest."""


def signature(instance_id: str, name: str, expires: int) -> str:
    message = f"stratus-disk-transfer\0{instance_id}\0{name}\0{expires}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def manifest(directory: Path) -> dict[str, dict]:
    """{name: {"size", "sha512"}} of the files a new host fetches from ``directory``."""
    files = {}
    for name in FILES:
        path = directory / name
        if not path.is_file():
            continue
        digest = hashlib.sha512()
        size = 0
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        files[name] = {"size": size, "sha512": digest.hexdigest()}
    return files


def fetch(base_url: str, instance_id: str, name: str, expected: dict, target: Path) -> None:
    """Stream one file from the old host's transfer endpoint to ``target``, verified."""
    expires = int(time.time()) + SIGNATURE_TTL
    query = urllib.parse.urlencode({"expires": expires, "signature": signature(instance_id, name, expires)})
    url = f"{base_url.rstrip('/')}/resize/{instance_id}/{urllib.parse.quote(name)}?{query}"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{time.monotonic_ns()}.part")
    digest, size = hashlib.sha512(), 0
    try:
        with (
            urllib.request.urlopen(url, timeout=settings.COMPUTE_RPC_TIMEOUT) as response,
            open(tmp, "xb") as fh,
        ):
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if size > expected["size"]:
                    raise TransferFailed(
                        f"{name} of instance {instance_id}: more bytes than the old host hashed"
                    )
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if size != expected["size"] or not hmac.compare_digest(digest.hexdigest(), expected["sha512"]):
            raise TransferFailed(
                f"{name} of instance {instance_id} arrived with {size} bytes and sha512 "
                f"{digest.hexdigest()[:16]}…, not as the old host sent it"
            )
        os.replace(tmp, target)
    except urllib.error.HTTPError as exc:
        raise TransferFailed(
            f"the old host refused {name} of instance {instance_id}: {exc.code} {exc.reason}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise TransferFailed(f"{name} of instance {instance_id} could not be fetched: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


class TransferServer:
    """The old host's side: a threaded HTTP server over ``<state_dir>/resize``."""

    def __init__(self, host_name: str, listen: str, resize_root: Path, address: str = ""):
        self.host_name, self.resize_root = host_name, Path(resize_root)
        bind, _, port = listen.rpartition(":")
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
                server.serve(self)

            def log_message(self, format: str, *args) -> None:  # noqa: A002
                # Without query strings: they hold the request's signature (a credential until it
                # expires), which has no place in a log.
                log.info("disk transfer: %s", QUERY_RE.sub("?...", format % args))

        self.httpd = ThreadingHTTPServer((bind, int(port)), Handler)
        self.httpd.daemon_threads = True
        bound, port_ = self.httpd.server_address[:2]
        # Bound to every address: other hosts reach this machine by its name.
        self.address = address or f"{socket.gethostname() if bound in ('0.0.0.0', '::') else bound}:{port_}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="disk-transfer", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> TransferServer:
        self.thread.start()
        log.info("disk transfer endpoint on %s", self.url)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)

    def refusal(self, path: str) -> tuple[int, str, Path | None]:
        """(status, reason, file): why the request is refused, or 200 and the file to send."""
        parsed = urllib.parse.urlsplit(path)
        parts = parsed.path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "resize" or not UUID_RE.match(parts[1]) or parts[2] not in FILES:
            return 404, "Not found", None
        instance_id, name = parts[1], parts[2]
        query = urllib.parse.parse_qs(parsed.query)
        try:
            expires = int(query.get("expires", ["0"])[0])
        except ValueError:
            return 403, "Bad signature", None
        given = query.get("signature", [""])[0]
        # Compared as bytes: compare_digest refuses str with characters outside ASCII.
        expected = signature(instance_id, name, expires).encode()
        if expires < time.time() or not hmac.compare_digest(given.encode(), expected):
            return 403, "Bad or expired signature", None
        # Only disks set aside for a move are here (the agent prunes those of finished moves).
        path_ = self.resize_root / instance_id / name
        if not path_.is_file():
            return 404, "No such disk is being moved from this host", None
        return 200, "OK", path_

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        status, reason, path = self.refusal(handler.path)
        if path is None:
            handler.send_error(status, reason)
            return
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            try:
                handler.wfile.flush()
                handler.connection.sendfile(fh)  # the kernel copies file → socket
            except OSError as exc:  # the new host went away; it retries or fails on its side
                log.warning("disk transfer of %s ended early: %s", path, exc)
