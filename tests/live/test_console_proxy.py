"""The console proxy as `make run` runs it (`manage.py console_proxy`, websockify) in front of real
QEMU guests on a real compute agent: what it refuses, with the reason, before any websocket is
opened; the guest's RFB stream behind a valid token; and open consoles closed when their instance
is stopped or deleted."""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.instances.live import Cloud, token
from tests.support import websocket
from tests.support.wait import wait_for

pytestmark = pytest.mark.live

NOVNC = {"remote_console": {"protocol": "vnc", "type": "novnc"}}
RFB_VERSION = b"RFB 003.008\n"


@pytest.fixture(scope="module")
def clouds(live_stack, credentials):
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    return demo, admin


@pytest.fixture(scope="module")
def guests(clouds, compute_host, marker_image):
    """Two running guests of demo's, A and B."""
    demo, _ = clouds
    ids = [
        demo.create(f"console-{name}-{uuid.uuid4().hex[:6]}", marker_image["id"], marker_image["flavor"])
        for name in "ab"
    ]
    for server_id in ids:
        demo.wait_status(server_id, "ACTIVE")
    yield ids
    for server_id in ids:
        if demo.get(f"/servers/{server_id}").status_code == 200:
            demo.delete(f"/servers/{server_id}")
            demo.wait_deleted(server_id)


def console_token(cloud: Cloud, server_id: str) -> str:
    response = cloud.post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6")
    assert response.status_code == 200, response.text
    return parse_qs(urlsplit(response.json()["remote_console"]["url"]).query)["token"][0]


def proxy_url(stack, server_id: str | None, tok: str | None) -> str:
    query = "&".join(f"{k}={v}" for k, v in (("instance", server_id), ("token", tok)) if v)
    return f"ws://127.0.0.1:{stack.console_port}/?{query}"


def refusal(stack, server_id: str | None, tok: str | None) -> str:
    answer = websocket.connect(proxy_url(stack, server_id, tok))
    assert answer.status == 403, (answer.status, answer.reason)
    assert answer.socket is None
    assert answer.reason.encode() in answer.body
    return answer.reason


def open_console(stack, server_id: str, tok: str):
    answer = websocket.connect(proxy_url(stack, server_id, tok))
    assert answer.status == 101, (answer.status, answer.reason)
    assert websocket.receive(answer.socket) == RFB_VERSION  # QEMU's VNC server speaks first
    return answer.socket


def test_the_proxy_refuses_no_token_a_made_up_one_and_the_token_of_another_instance(
    live_stack, clouds, guests
):
    demo, _ = clouds
    a, b = guests
    tok = console_token(demo, a)
    assert refusal(live_stack, a, None) == "The console URL carries no token."
    assert refusal(live_stack, a, "made-up-" + uuid.uuid4().hex) == "The console token is not valid."
    assert refusal(live_stack, b, tok) == "The console token is not valid for this instance."
    assert refusal(live_stack, None, tok) == "The console URL names no instance."
    # Nothing but websockets is served, not even to a valid token.
    plain = requests.get(proxy_url(live_stack, a, tok).replace("ws://", "http://"), timeout=30)
    assert plain.status_code == 405
    # Tokens never reach the proxy's log.
    wait_for(lambda: "console refused" in live_stack.log("console"), what="the refusals in the log")
    assert tok not in live_stack.log("console")


def test_the_proxy_refuses_an_expired_token(live_stack, clouds, guests):
    demo, _ = clouds
    a, _ = guests
    tok = console_token(demo, a)
    digest = hashlib.sha256(tok.encode()).hexdigest()
    live_stack.shell(
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from instances.models import ConsoleToken\n"
        "past = timezone.now() - timedelta(seconds=1)\n"
        f"print(ConsoleToken.objects.filter(digest='{digest}')"
        ".update(created_at=past - timedelta(minutes=10), expires_at=past))"
    )
    assert refusal(live_stack, a, tok) == "The console token has expired."


def test_a_valid_token_reaches_the_guests_vnc_server_and_only_that(live_stack, clouds, guests):
    demo, _ = clouds
    a, _ = guests
    sock = open_console(live_stack, a, console_token(demo, a))
    try:
        # RFB: the client's version, then the server's security types (QEMU without a password: None).
        websocket.send(sock, RFB_VERSION)
        types = websocket.receive(sock)
        assert types[0] >= 1 and 1 in types[1:]
    finally:
        sock.close()


def test_an_open_console_closes_when_its_token_is_revoked(live_stack, clouds, guests):
    """The proxy re-checks open consoles (STRATUS_CONSOLE_RECHECK_INTERVAL): the guest keeps
    running here, only the token goes."""
    demo, _ = clouds
    a, _ = guests
    sock = open_console(live_stack, a, console_token(demo, a))
    live_stack.shell(f"from instances.services import consoles\nprint(consoles.revoke('{a}'))")
    closed = websocket.receive_until_closed(sock, timeout=30)
    sock.close()
    assert (closed.code, closed.reason) == (1000, "The console was revoked.")
    assert demo.server(a)["status"] == "ACTIVE"


def test_stopping_an_instance_closes_its_open_consoles_and_its_tokens_stop_working(
    live_stack, clouds, guests
):
    demo, _ = clouds
    a, _ = guests
    tok = console_token(demo, a)
    sock = open_console(live_stack, a, tok)
    demo.action(a, {"os-stop": None})
    closed = websocket.receive_until_closed(sock, timeout=60)
    sock.close()
    assert closed.code == 1000
    assert closed.reason in ("The instance is being stopped.", "The instance is not running (it is SHUTOFF).")
    demo.wait_status(a, "SHUTOFF")
    assert refusal(live_stack, a, tok) == "The console token is not valid."  # revoked
    response = demo.post(f"/servers/{a}/remote-consoles", NOVNC, "2.6")
    assert response.status_code == 409
    assert "is not running (it is SHUTOFF)" in response.json()["conflictingRequest"]["message"]


def test_deleting_an_instance_closes_its_open_consoles(live_stack, clouds, guests):
    demo, _ = clouds
    _, b = guests
    sock = open_console(live_stack, b, console_token(demo, b))
    assert demo.delete(f"/servers/{b}").status_code == 204
    closed = websocket.receive_until_closed(sock, timeout=60)
    sock.close()
    assert closed.code == 1000
    assert closed.reason in ("The instance is being deleted.", "The instance was deleted.")
    demo.wait_deleted(b)


def test_another_projects_instance_has_no_console_for_demo(live_stack, clouds, compute_host, marker_image):
    demo, admin = clouds
    theirs = admin.create(f"admins-{uuid.uuid4().hex[:6]}", marker_image["id"], marker_image["flavor"])
    try:
        admin.wait_status(theirs, "ACTIVE")
        assert demo.post(f"/servers/{theirs}/remote-consoles", NOVNC, "2.6").status_code == 404
        action = demo.post(f"/servers/{theirs}/action", {"os-getVNCConsole": {"type": "novnc"}}, "2.1")
        assert action.status_code == 404
    finally:
        admin.delete(f"/servers/{theirs}")
        admin.wait_deleted(theirs)
