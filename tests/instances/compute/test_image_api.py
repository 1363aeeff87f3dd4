"""A compute host that does not share the image store streams image data from the image API, as
the compute service user, and refuses data that does not match the image's checksum."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from dashboard.context import RequestContext
from dashboard.models import Project, RoleAssignment, Token, User
from instances.compute import image_api
from instances.models import ComputeHost
from tests.factories import make_project, make_user

DATA = b"stratus image bytes " * 4096


@pytest.fixture(autouse=True)
def no_cached_token(monkeypatch):
    """Each test starts without the token an earlier one cached (its user is gone with its data)."""
    monkeypatch.setattr(image_api, "_token", None)


@pytest.fixture
def image_server(settings):
    """A stand-in for the controller's image API: serves DATA, records the token it was sent."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("X-Auth-Token", ""))
            if not self.path.startswith("/image/v2/images/known/file"):
                self.send_error(404, "No image found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    settings.CONTROLLER_URL = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield seen
    httpd.shutdown()
    httpd.server_close()


def test_it_streams_the_image_as_the_compute_service_user(db, image_server):
    out = io.BytesIO()
    image_api.fetcher("known", hashlib.md5(DATA).hexdigest())(out)
    assert out.getvalue() == DATA
    token = Token.lookup(image_server[0])
    assert token is not None and token.user.username == "compute" and token.user.service
    assert token.project.name == "service" and token.project.service
    assert RequestContext.for_user(token.user, token.project).is_admin


def test_it_refuses_data_that_does_not_match_the_checksum(db, image_server):
    with pytest.raises(image_api.ImageFetchFailed, match="does not match its checksum"):
        image_api.fetcher("known", hashlib.md5(b"other").hexdigest())(io.BytesIO())


def test_an_image_the_api_does_not_serve_is_an_error_with_the_answer(db, image_server):
    with pytest.raises(image_api.ImageFetchFailed, match="404"):
        image_api.fetcher("unknown", "")(io.BytesIO())


def test_an_agent_whose_controller_cannot_be_reached_stops_at_once(db, settings, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CONTROLLER_URL = f"http://127.0.0.1:{port}"
    with pytest.raises(CommandError, match="cannot be reached"):
        call_command("compute_agent", "--host", "far1", "--state-dir", str(tmp_path))
    assert not ComputeHost.objects.exists()


def test_an_ordinary_user_named_compute_is_never_made_the_service_user(db, image_server):
    home = make_project("home")
    ordinary = make_user("compute", roles={home: "member"})
    with pytest.raises(image_api.ImageFetchFailed, match="not the cloud's service user"):
        image_api.fetcher("known", hashlib.md5(DATA).hexdigest())(io.BytesIO())
    assert image_server == []
    ordinary.refresh_from_db()
    assert not ordinary.service and ordinary.has_usable_password()
    assert list(RoleAssignment.objects.filter(user=ordinary).values_list("role__name", flat=True)) == [
        "member"
    ]
    with pytest.raises(CommandError, match="not the cloud's service user"):
        call_command("bootstrap")


def test_a_tenant_project_named_service_is_never_made_the_service_project(
    db, image_server, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    tenant = make_project("Service")
    with pytest.raises(image_api.ImageFetchFailed, match="not the cloud's service project"):
        image_api.fetcher("known", hashlib.md5(DATA).hexdigest())(io.BytesIO())
    assert not User.objects.filter(username="compute").exists()
    assert not RoleAssignment.objects.filter(project=tenant).exists()
    assert not Project.objects.get(pk=tenant.pk).service
