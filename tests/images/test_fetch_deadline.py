"""The total deadline of a URL fetch holds for every read: a server that trickles its response
(a byte now and then, so that no single read ever times out) is cut off when the deadline passes,
whether it trickles the body or the headers, for imports (a worker) and for downloads of an image
whose data stays at an HTTP location (a web thread)."""

from __future__ import annotations

import socketserver
import threading
import time

import pytest

from images import services, tasks
from images.models import Image, ImageLocation
from images.pipeline.fetch import FetchError, open_url
from images.staging import staging_path
from tests.support.wait import wait_for

pytestmark = pytest.mark.django_db

DEADLINE = 1.5


SIZE = 1 << 20
HEAD = f"HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
# The start of a TLS handshake record announcing 16 KiB: a client waits for all of it.
TLS_RECORD = b"\x16\x03\x03\x40\x00" + b"\x02" * 0x4000


class Trickler:
    """A TCP server that answers every connection with ``at_once``, then ``slowly`` one byte every
    ``interval`` seconds. It gives up after ``give_up`` seconds and closes the connection, so a
    client without a working deadline fails late instead of never."""

    def __init__(self, at_once: bytes, slowly: bytes, *, interval: float = 0.05, give_up: float = 20.0):
        self.sent = 0
        self.disconnected = threading.Event()
        self.stopped = threading.Event()
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                ends = time.monotonic() + give_up
                try:
                    self.request.sendall(at_once)
                    for offset in range(len(slowly)):
                        if time.monotonic() > ends or owner.stopped.wait(interval):
                            return
                        self.request.sendall(slowly[offset : offset + 1])
                        owner.sent += 1
                except OSError:  # the client cut the connection
                    owner.disconnected.set()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/disk.raw"

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


def trickler_fixture(at_once: bytes, slowly: bytes):
    @pytest.fixture
    def fixture(settings):
        server = Trickler(at_once, slowly)
        settings.IMAGE_IMPORT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        settings.IMAGE_IMPORT_ALLOWED_PORTS = [server.port]
        settings.IMAGE_IMPORT_TOTAL_TIMEOUT = DEADLINE
        settings.IMAGE_IMPORT_READ_TIMEOUT = 30.0  # far beyond the deadline: it alone would not help
        yield server
        server.stop()

    return fixture


trickling_body = trickler_fixture(HEAD, bytes(SIZE))
trickling_headers = trickler_fixture(b"", HEAD + bytes(SIZE))
trickling_tls = trickler_fixture(b"", TLS_RECORD)


def test_a_web_download_from_a_trickling_server_fails_at_the_deadline_and_leaves_nothing(
    member, stores_dir, trickling_body
):
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    services.start_import(image, "web-download", trickling_body.url())
    started = time.monotonic()
    tasks.import_image(str(image.pk))
    elapsed = time.monotonic() - started
    assert DEADLINE <= elapsed < DEADLINE + 4, elapsed
    image.refresh_from_db()
    assert image.status == "queued"
    assert image.reason == f"Import failed: The download took longer than the allowed {DEADLINE:g} seconds."
    assert trickling_body.sent > 0  # bytes kept coming: no read ever timed out on its own
    wait_for(trickling_body.disconnected.is_set, timeout=10, what="the fetch to drop the connection")
    assert not staging_path(image.pk).exists()
    assert list((stores_dir / "store").iterdir()) == []


def test_a_server_trickling_its_headers_is_cut_at_the_deadline(trickling_headers):
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than the allowed"):
        open_url(trickling_headers.url())
    assert DEADLINE <= time.monotonic() - started < DEADLINE + 4
    assert trickling_headers.sent > 0
    wait_for(trickling_headers.disconnected.is_set, timeout=10, what="the fetch to drop the connection")


def test_downloading_an_image_at_a_trickling_http_location_ends_at_the_deadline(member, trickling_body):
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    Image.objects.filter(pk=image.pk).update(
        status="active", size=SIZE, checksum="0" * 32, os_hash_algo="sha512", os_hash_value="0" * 128
    )
    ImageLocation.objects.create(image=image, store="http", url=trickling_body.url())
    response = member.get(f"/v2/images/{image.pk}/file")
    assert response.status_code == 200
    received = bytearray()
    started = time.monotonic()
    with pytest.raises(FetchError) as raised:
        for chunk in response.streaming_content:
            received += chunk
    assert DEADLINE - 0.5 <= time.monotonic() - started < DEADLINE + 4
    assert "took longer than the allowed" in str(raised.value)
    assert len(received) < SIZE  # the client sees a cut transfer, never a complete one
    wait_for(trickling_body.disconnected.is_set, timeout=10, what="the download to drop the connection")


def test_a_server_trickling_its_tls_handshake_is_cut_at_the_deadline(trickling_tls):
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than the allowed"):
        open_url(trickling_tls.url("https"))
    assert DEADLINE <= time.monotonic() - started < DEADLINE + 4
    assert trickling_tls.sent > 0
    wait_for(trickling_tls.disconnected.is_set, timeout=10, what="the fetch to drop the connection")
