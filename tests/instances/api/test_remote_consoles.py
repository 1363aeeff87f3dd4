"""Remote consoles through the Compute API on a fake-driver host: POST /servers/{id}/remote-consoles
(2.6+) and the os-getVNCConsole action (up to 2.5) hand out a console URL whose token the database
keeps only as a digest; who may ask, in which states; and the checks the console proxy and the
agents' VNC relay make with that token (instances/services/consoles.py)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from instances.compute.console_proxy import ConsoleTokenPlugin
from instances.models import ComputeHost, ConsoleToken, Instance
from instances.services import consoles
from tests.instances.api.test_servers import act, launch

NOVNC = {"remote_console": {"protocol": "vnc", "type": "novnc"}}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def server_id(world, host, image, tiny, capture) -> str:
    return launch(world, host, image, tiny, capture)


def token_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.path == "/console/"
    return parse_qs(parts.query)["token"][0]


def test_a_member_gets_a_novnc_url_whose_token_is_stored_only_as_its_digest(world, server_id):
    response = world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6")
    assert response.status_code == 200, response.content
    console = response.json()["remote_console"]
    assert (console["protocol"], console["type"]) == ("vnc", "novnc")
    assert console["url"].startswith("http://testserver/console/?token=")
    token = token_of(console["url"])
    assert len(token) >= 40

    row = ConsoleToken.objects.get()
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert str(row.instance_id) == server_id
    assert row.expires_at - row.created_at == timedelta(seconds=600)
    stored = [str(value) for value in ConsoleToken.objects.values_list().get()]
    assert not any(token in value for value in stored)

    # Each request gets its own token.
    again = world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.96")
    assert token_of(again.json()["remote_console"]["url"]) != token
    assert ConsoleToken.objects.count() == 2


def test_the_token_lifetime_is_a_setting(world, server_id, settings):
    settings.CONSOLE_TOKEN_TTL = 30
    assert world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6").status_code == 200
    row = ConsoleToken.objects.get()
    assert row.expires_at - row.created_at == timedelta(seconds=30)


def test_remote_consoles_needs_2_6_and_the_action_ends_at_2_5(world, server_id):
    assert world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.5").status_code == 404
    legacy = {"os-getVNCConsole": {"type": "novnc"}}
    response = world["member"].post(f"/servers/{server_id}/action", legacy, "2.1")
    assert response.status_code == 200, response.content
    console = response.json()["console"]
    assert console["type"] == "novnc"
    assert consoles.lookup(token_of(console["url"])).instance_id == Instance.objects.get().pk
    assert world["member"].post(f"/servers/{server_id}/action", legacy, "2.6").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"remote_console": {"protocol": "spice", "type": "spice-html5"}}, "Unavailable console type"),
        ({"remote_console": {"protocol": "vnc", "type": "xvpvnc"}}, "Unavailable console type"),
        ({"remote_console": {"protocol": "vnc", "type": "spice-html5"}}, "Unavailable console type"),
        ({"remote_console": {"protocol": "telnet", "type": "novnc"}}, "protocol"),
        ({"remote_console": {"protocol": "vnc"}}, "'type' is a required property"),
        ({"remote_console": {**NOVNC["remote_console"], "extra": 1}}, "Additional properties"),
        ({"console": {}}, "'remote_console' is a required property"),
    ],
)
def test_what_is_not_a_novnc_console_is_400(world, server_id, body, message):
    response = world["member"].post(f"/servers/{server_id}/remote-consoles", body, "2.6")
    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]
    assert not ConsoleToken.objects.exists()


def test_another_projects_server_is_404_a_reader_is_refused_an_admin_may(world, server_id):
    path = f"/servers/{server_id}/remote-consoles"
    response = world["outsider"].post(path, NOVNC, "2.6")
    assert response.status_code == 404
    assert (
        world["outsider"]
        .post(f"/servers/{server_id}/action", {"os-getVNCConsole": {"type": "novnc"}})
        .status_code
        == 404
    )
    assert world["reader"].post(path, NOVNC, "2.6").status_code == 403
    assert world["admin"].post(path, NOVNC, "2.6").status_code == 200
    assert ConsoleToken.objects.count() == 1


def test_a_console_for_an_instance_that_does_not_run_is_409(world, host, server_id, capture):
    assert act(world, host, server_id, {"os-stop": None}, capture).status_code == 202
    response = world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6")
    assert response.status_code == 409
    assert "is not running (it is SHUTOFF)" in response.json()["conflictingRequest"]["message"]
    legacy = world["member"].post(f"/servers/{server_id}/action", {"os-getVNCConsole": {"type": "novnc"}})
    assert legacy.status_code == 409
    assert not ConsoleToken.objects.exists()


def test_a_paused_instance_still_has_its_console(world, host, server_id, capture):
    act(world, host, server_id, {"pause": None}, capture)
    assert world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6").status_code == 200


@pytest.mark.parametrize("action", [{"os-stop": None}, {"suspend": None}])
def test_stopping_or_suspending_revokes_the_tokens(world, host, server_id, capture, action):
    world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6")
    assert ConsoleToken.objects.count() == 1
    with capture():
        assert world["member"].post(f"/servers/{server_id}/action", action).status_code == 202
    assert not ConsoleToken.objects.exists()  # in the request, before the agent acted


def test_deleting_revokes_the_tokens(world, server_id, capture):
    world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6")
    with capture():
        assert world["member"].delete(f"/servers/{server_id}").status_code == 204
    assert not ConsoleToken.objects.exists()


def test_a_reboot_keeps_the_tokens(world, host, server_id, capture):
    world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6")
    act(world, host, server_id, {"reboot": {"type": "HARD"}}, capture)
    assert ConsoleToken.objects.count() == 1


# --- the checks of the proxy and the relay -----------------------------------------------------


def issue(world, server_id: str) -> str:
    response = world["member"].post(f"/servers/{server_id}/remote-consoles", NOVNC, "2.6")
    return token_of(response.json()["remote_console"]["url"])


@pytest.fixture
def two(world, host, image, tiny, capture) -> tuple[str, str]:
    return launch(world, host, image, tiny, capture, name="a"), launch(
        world, host, image, tiny, capture, name="b"
    )


def refused(token, instance_id, **kwargs) -> str:
    with pytest.raises(consoles.ConsoleRefused) as caught:
        consoles.check(token, instance_id, **kwargs)
    assert caught.value.status == 403
    return caught.value.message


def test_a_token_opens_its_own_instance_and_nothing_else(world, two):
    a, b = two
    token = issue(world, a)
    grant = consoles.check(token, a)
    assert (grant.instance_id, grant.host.name) == (a, "host1")
    assert refused(token, b) == "The console token is not valid for this instance."
    assert refused(None, a) == "The console URL carries no token."
    assert refused(token, None) == "The console URL names no instance."
    assert refused("made-up-" + token[8:], a) == "The console token is not valid."
    assert refused(token, a, host_name="host2") == "The instance is not on host host2."


def test_an_expired_token_is_refused(world, server_id):
    token = issue(world, server_id)
    past = timezone.now() - timedelta(seconds=1)
    ConsoleToken.objects.update(created_at=past - timedelta(seconds=600), expires_at=past)
    assert refused(token, server_id) == "The console token has expired."
    # The next token issued clears the expired ones.
    issue(world, server_id)
    assert ConsoleToken.objects.count() == 1


def test_a_token_of_a_stopped_instance_is_refused(world, host, server_id, capture):
    token = issue(world, server_id)
    Instance.objects.filter(pk=server_id).update(vm_state="stopped")
    assert refused(token, server_id) == "The instance is not running (it is SHUTOFF)."


def test_an_open_console_must_close_when_its_instance_stops_or_goes(world, host, two, capture):
    a, b = two
    grant_a, grant_b = consoles.check(issue(world, a), a), consoles.check(issue(world, b), b)
    assert consoles.closing_reason(grant_a) == ""
    ComputeHost.objects.update(last_heartbeat=None)  # a missed heartbeat does not close it
    assert consoles.closing_reason(grant_a) == ""
    ComputeHost.objects.update(last_heartbeat=timezone.now())
    with capture():
        world["member"].post(f"/servers/{a}/action", {"os-stop": None})
    assert consoles.closing_reason(grant_a) == "The instance is being stopped."
    with capture():
        world["member"].delete(f"/servers/{b}")
    assert consoles.closing_reason(grant_b) == "The instance is being deleted."
    Instance.objects.filter(pk=b).update(deleted=True, vm_state="deleted", task_state="")
    assert consoles.closing_reason(grant_b) == "The instance was deleted."


def test_a_revoked_token_closes_the_console_of_a_running_instance(world, server_id):
    grant = consoles.check(issue(world, server_id), server_id)
    consoles.revoke(server_id)
    assert consoles.closing_reason(grant) == "The console was revoked."


def test_the_proxy_uses_the_socket_on_its_own_machine_and_the_relay_elsewhere(
    world, host, server_id, settings
):
    grant = consoles.check(issue(world, server_id), server_id)
    # The fake driver's guests have no screen.
    with pytest.raises(consoles.ConsoleRefused, match="have no screen"):
        consoles.endpoint(grant)

    row = ComputeHost.objects.get(name="host1")
    here = {"machine": consoles.this_machine(), "sockets": "/srv/guests", "relay": ""}
    ComputeHost.objects.filter(pk=row.pk).update(capabilities={**row.capabilities, "console": here})
    local = consoles.endpoint(consoles.check(issue(world, server_id), server_id))
    assert local.socket is not None and str(local.socket) == f"/srv/guests/{server_id}/vnc.sock"
    assert local.relay is None

    elsewhere = {**here, "machine": "another-machine", "relay": "10.0.0.5:5900"}
    ComputeHost.objects.filter(pk=row.pk).update(capabilities={**row.capabilities, "console": elsewhere})
    remote = consoles.endpoint(consoles.check(issue(world, server_id), server_id))
    assert (remote.socket, remote.relay) == (None, ("10.0.0.5", 5900))

    no_relay = {**elsewhere, "relay": ""}
    ComputeHost.objects.filter(pk=row.pk).update(capabilities={**row.capabilities, "console": no_relay})
    with pytest.raises(consoles.ConsoleRefused, match="STRATUS_CONSOLE_VNC_LISTEN"):
        consoles.endpoint(consoles.check(issue(world, server_id), server_id))


def test_an_agent_records_where_its_guests_screens_are(host, settings):
    console = ComputeHost.objects.get(name="host1").capabilities["console"]
    assert console == {"machine": consoles.this_machine(), "sockets": "", "relay": ""}
    settings.MACHINE_ID = "rack-7"
    consoles.this_machine.cache_clear()
    try:
        assert consoles.this_machine() == "rack-7"
    finally:
        consoles.this_machine.cache_clear()


def test_the_token_plugin_answers_websockifys_lookup_with_the_guests_socket(world, host, server_id):
    row = ComputeHost.objects.get(name="host1")
    here = {"machine": consoles.this_machine(), "sockets": "/srv/guests", "relay": ""}
    ComputeHost.objects.filter(pk=row.pk).update(capabilities={**row.capabilities, "console": here})
    plugin = ConsoleTokenPlugin()
    token = issue(world, server_id)
    assert plugin.lookup(token, server_id) == ("unix_socket", f"/srv/guests/{server_id}/vnc.sock")
    assert plugin.lookup("made-up", server_id) is None
