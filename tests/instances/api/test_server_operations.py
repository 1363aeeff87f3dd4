"""Edit, lock, metadata and tags of servers, and their action log (os-instance-actions), through
the real URLs on an in-process compute host with the fake driver."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.models import Instance, InstanceAction, InstanceActionEvent
from tests.instances.api.test_servers import act, create_body, launch
from tests.instances.conftest import Deliver


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def server(world, host, image, tiny, capture):
    return launch(world, host, image, tiny, capture)


def show(world, server_id, version="2.96", who="member") -> dict:
    return world[who].get(f"/servers/{server_id}", version).json()["server"]


def fault(response) -> str:
    (body,) = response.json().values()
    return body["message"]


# --- edit ------------------------------------------------------------------------------------


def test_put_renames_and_describes_the_server_and_answers_with_it(world, server):
    response = world["member"].put(
        f"/servers/{server}", {"server": {"name": "renamed", "description": "the web tier"}}, "2.19"
    )
    assert response.status_code == 200
    body = response.json()["server"]
    assert (body["name"], body["description"]) == ("renamed", "the web tier")
    assert Instance.objects.get(pk=server).name == "renamed"
    cleared = world["member"].put(f"/servers/{server}", {"server": {"description": None}}, "2.19")
    assert cleared.json()["server"]["description"] is None
    assert Instance.objects.get(pk=server).name == "renamed"


@pytest.mark.parametrize(
    ("version", "body", "message"),
    [
        ("2.18", {"server": {"description": "x"}}, "('description' was unexpected)"),
        ("2.96", {"server": {"flavorRef": "1"}}, "('flavorRef' was unexpected)"),
        ("2.96", {"server": {"name": " padded"}}, "Invalid input for field/attribute name"),
        ("2.96", {"server": {"name": ""}}, "Invalid input for field/attribute name"),
        ("2.96", {"server": {"description": "d" * 256}}, "is too long"),
        ("2.96", {"server": {"accessIPv4": "10.0.0"}}, "not a valid IPv4 address"),
        ("2.96", {"name": "x"}, "'server' is a required property"),
    ],
)
def test_put_refuses_what_nova_refuses_and_what_stratus_cannot_honour(world, server, version, body, message):
    response = world["member"].put(f"/servers/{server}", body, version)
    assert response.status_code == 400
    assert message in fault(response)
    assert Instance.objects.get(pk=server).name == "vm1"


@pytest.mark.parametrize(
    ("persona", "expected"), [("admin", 200), ("member", 200), ("reader", 403), ("outsider", 404)]
)
def test_put_follows_the_update_policy(world, server, persona, expected):
    assert world[persona].put(f"/servers/{server}", {"server": {"name": "n"}}).status_code == expected


# --- lock ------------------------------------------------------------------------------------


def test_a_locked_server_refuses_members_and_lets_an_admin_act(world, host, server, capture):
    assert show(world, server, "2.8").get("locked") is None
    lock = act(world, host, server, {"lock": {"locked_reason": "maintenance"}}, capture, version="2.73")
    assert lock.status_code == 202
    body = show(world, server)
    assert (body["locked"], body["locked_reason"]) == (True, "maintenance")
    assert "locked_reason" not in show(world, server, "2.72")

    refused = act(world, host, server, {"os-stop": None}, capture)
    assert refused.status_code == 409
    assert fault(refused) == f"Instance {server} is locked"
    assert world["member"].delete(f"/servers/{server}").status_code == 409
    assert world["member"].post(f"/servers/{server}/metadata", {"metadata": {"a": "b"}}).status_code == 409
    assert show(world, server)["status"] == "ACTIVE"

    assert act(world, host, server, {"os-stop": None}, capture, who="admin").status_code == 202
    assert show(world, server)["status"] == "SHUTOFF"

    assert act(world, host, server, {"unlock": None}, capture).status_code == 202
    body = show(world, server)
    assert (body["locked"], body["locked_reason"]) == (False, None)
    assert act(world, host, server, {"os-start": None}, capture).status_code == 202
    logged = InstanceAction.objects.filter(instance_id=server).order_by("start_time", "id")
    assert [a.action for a in logged] == ["create", "lock", "stop", "unlock", "start"]


def test_a_lock_taken_by_an_admin_needs_the_override_rule_to_unlock(world, host, server, capture):
    assert act(world, host, server, {"lock": None}, capture, who="admin").status_code == 202
    assert Instance.objects.get(pk=server).locked_by == "admin"
    refused = act(world, host, server, {"unlock": None}, capture)
    assert refused.status_code == 403
    assert "unlock_override" in fault(refused)
    assert act(world, host, server, {"unlock": None}, capture, who="admin").status_code == 202
    assert not Instance.objects.get(pk=server).locked


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"lock": {"locked_reason": ""}}, "is too short"),
        ({"lock": {"locked_reason": "r" * 256}}, "is too long"),
        ({"lock": {"reason": "x"}}, "('reason' was unexpected)"),
        ({"lock": "now"}, "is not of type 'object', 'null'"),
    ],
)
def test_lock_refuses_a_bad_reason(world, host, server, capture, body, message):
    response = act(world, host, server, body, capture, version="2.73")
    assert response.status_code == 400
    assert message in fault(response)
    assert not Instance.objects.get(pk=server).locked


@pytest.mark.parametrize(("persona", "expected"), [("member", 202), ("reader", 403), ("outsider", 404)])
def test_lock_follows_its_policy(world, host, server, capture, persona, expected):
    assert act(world, host, server, {"lock": None}, capture, who=persona).status_code == expected


# --- metadata ----------------------------------------------------------------------------------


def test_metadata_merge_replace_and_items(world, server):
    m = world["member"]
    url = f"/servers/{server}/metadata"
    assert m.get(url).json() == {"metadata": {}}
    assert m.post(url, {"metadata": {"a": "1", "b": "2"}}).json() == {"metadata": {"a": "1", "b": "2"}}
    assert m.post(url, {"metadata": {"b": "3"}}).json() == {"metadata": {"a": "1", "b": "3"}}
    assert m.put(url, {"metadata": {"c": "4"}}).json() == {"metadata": {"c": "4"}}
    assert m.get(f"{url}/c").json() == {"meta": {"c": "4"}}
    assert m.put(f"{url}/d", {"meta": {"d": "5"}}).json() == {"meta": {"d": "5"}}
    assert m.delete(f"{url}/c").status_code == 204
    assert Instance.objects.get(pk=server).metadata == {"d": "5"}
    assert show(world, server)["metadata"] == {"d": "5"}
    missing = m.get(f"{url}/c")
    assert (missing.status_code, fault(missing)) == (404, "Metadata item was not found")
    assert m.delete(f"{url}/c").status_code == 404


@pytest.mark.parametrize(
    ("path", "method", "body", "message"),
    [
        ("/d", "put", {"meta": {"e": "1"}}, "Request body and URI mismatch"),
        ("/d", "put", {"meta": {"d": "1", "e": "2"}}, "Request body contains too many items"),
        ("", "post", {"metadata": {"k" * 256: "v"}}, "Additional properties are not allowed"),
        ("", "post", {"metadata": {"k": "v" * 256}}, "is too long"),
        ("", "post", {"metadata": {"k": 1}}, "is not of type 'string'"),
        ("", "put", {"meta": {"k": "v"}}, "'metadata' is a required property"),
    ],
)
def test_metadata_refuses_bad_bodies_as_nova(world, server, path, method, body, message):
    response = getattr(world["member"], method)(f"/servers/{server}/metadata{path}", body)
    assert response.status_code == 400
    assert message in fault(response)
    assert Instance.objects.get(pk=server).metadata == {}


def test_metadata_is_limited_by_the_quota_limits_reports(world, server, settings):
    settings.COMPUTE_QUOTA_METADATA_ITEMS = 2
    limits = world["member"].get("/limits").json()["limits"]["absolute"]
    assert limits["maxServerMeta"] == 2
    url = f"/servers/{server}/metadata"
    assert world["member"].post(url, {"metadata": {"a": "1", "b": "2"}}).status_code == 200
    over = world["member"].post(url, {"metadata": {"c": "3"}})
    assert (over.status_code, fault(over)) == (403, "Maximum number of metadata items exceeds 2")
    assert world["member"].put(url, {"metadata": {"x": "1", "y": "2"}}).status_code == 200
    assert Instance.objects.get(pk=server).metadata == {"x": "1", "y": "2"}


@pytest.mark.parametrize(("persona", "get", "post"), [("reader", 200, 403), ("outsider", 404, 404)])
def test_metadata_follows_its_policies(world, server, persona, get, post):
    assert world[persona].get(f"/servers/{server}/metadata").status_code == get
    assert world[persona].post(f"/servers/{server}/metadata", {"metadata": {"a": "b"}}).status_code == post


# --- tags --------------------------------------------------------------------------------------


def test_tags_replace_add_check_and_remove(world, server):
    m = world["member"]
    url = f"/servers/{server}/tags"
    assert m.get(url, "2.25").status_code == 404
    assert m.get(url, "2.26").json() == {"tags": []}
    assert m.put(url, {"tags": ["web", "prod"]}, "2.26").json() == {"tags": ["prod", "web"]}
    added = m.put(f"{url}/blue", None, "2.26")
    assert added.status_code == 201
    assert added["Location"].endswith(f"/servers/{server}/tags/blue")
    assert m.put(f"{url}/blue", None, "2.26").status_code == 204
    assert m.get(f"{url}/blue", "2.26").status_code == 204
    missing = m.get(f"{url}/red", "2.26")
    assert (missing.status_code, fault(missing)) == (404, f"Server {server} has no tag 'red'")
    assert show(world, server, "2.26")["tags"] == ["blue", "prod", "web"]
    assert "tags" not in show(world, server, "2.25")
    assert m.delete(f"{url}/web", "2.26").status_code == 204
    assert m.delete(f"{url}/web", "2.26").status_code == 404
    assert m.delete(url, "2.26").status_code == 204
    assert m.get(url, "2.26").json() == {"tags": []}


def test_tags_have_nova_limits(world, server):
    m = world["member"]
    url = f"/servers/{server}/tags"
    assert m.put(url, {"tags": [f"t{i}" for i in range(51)]}, "2.26").status_code == 400
    assert "is too long" in fault(m.put(url, {"tags": ["x" * 61]}, "2.26"))
    assert "does not match" in fault(m.put(url, {"tags": ["a,b"]}, "2.26"))
    bad = m.put(f"{url}/a,b", None, "2.26")
    assert bad.status_code == 400 and "Tag 'a,b' is invalid" in fault(bad)
    assert m.put(url, {"tags": [f"t{i}" for i in range(50)]}, "2.26").status_code == 200
    full = m.put(f"{url}/one-more", None, "2.26")
    assert (full.status_code, fault(full)) == (400, "The number of tags exceeded the per-server limit 50")
    assert len(m.get(url, "2.26").json()["tags"]) == 50


def test_tags_change_only_in_the_states_nova_allows(world, server):
    Instance.objects.filter(pk=server).update(vm_state="error")
    refused = world["member"].put(f"/servers/{server}/tags/x", None, "2.26")
    assert refused.status_code == 409
    assert fault(refused) == f"Cannot 'update tag' instance {server} while it is in vm_state error"
    assert world["member"].get(f"/servers/{server}/tags", "2.26").json() == {"tags": []}


@pytest.mark.parametrize(("persona", "get", "put"), [("reader", 200, 403), ("outsider", 404, 404)])
def test_tags_follow_their_policies(world, server, persona, get, put):
    assert world[persona].get(f"/servers/{server}/tags", "2.26").status_code == get
    assert world[persona].put(f"/servers/{server}/tags/x", None, "2.26").status_code == put


def test_the_list_filters_by_tags(world, host, image, tiny, capture):
    ids = {}
    for name, tags in (("a", ["x", "y"]), ("b", ["x"]), ("c", [])):
        ids[name] = launch(world, host, image, tiny, capture, name=name, tags=tags)

    def names(query: str) -> list[str]:
        servers = world["member"].get(f"/servers?{query}", "2.26").json()["servers"]
        return sorted(s["name"] for s in servers)

    assert names("tags=x,y") == ["a"]
    assert names("tags-any=x,y") == ["a", "b"]
    assert names("not-tags=x,y") == ["b", "c"]
    assert names("not-tags-any=y") == ["b", "c"]
    assert names("tags=x&not-tags-any=y") == ["b"]


def test_the_detail_list_reads_tags_in_constant_queries(world, host, image, tiny, capture):
    launch(world, host, image, tiny, capture, tags=["one"])
    with CaptureQueriesContext(connection) as one:
        assert world["member"].get("/servers/detail", "2.96").status_code == 200
    for i in range(4):
        launch(world, host, image, tiny, capture, name=f"more-{i}", tags=[f"t{i}", "u"])
    with CaptureQueriesContext(connection) as many:
        servers = world["member"].get("/servers/detail", "2.96").json()["servers"]
    assert len(servers) == 5
    assert sorted(s["tags"] for s in servers)[0] == ["one"]
    assert len(many) == len(one)


# --- create: every input honoured or refused ---------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "version", "message"),
    [
        ({"colour": "blue"}, "2.96", "('colour' was unexpected)"),
        ({"adminPass": 12}, "2.96", "is not of type 'string'"),
        ({"accessIPv4": "1.1.1"}, "2.96", "not a valid IPv4 address"),
        ({"accessIPv6": "1.1.1.1"}, "2.96", "not a valid IPv6 address"),
        ({"personality": [{"path": "/x", "contents": ""}]}, "2.56", "File injection"),
        ({"personality": [{"path": "/x", "contents": ""}]}, "2.57", "('personality' was unexpected)"),
        ({"security_groups": [{"name": "web"}]}, "2.96", "Security group web not found."),
        ({"tags": ["a"]}, "2.51", "('tags' was unexpected)"),
        ({"tags": ["a/b"]}, "2.52", "does not match"),
        ({"description": "x"}, "2.18", "('description' was unexpected)"),
        ({"metadata": {"bad/key": "v"}}, "2.96", "Additional properties are not allowed"),
        ({"OS-DCF:diskConfig": "SOMETIMES"}, "2.96", "It must be AUTO or MANUAL"),
        ({"hostname": "web"}, "2.89", "('hostname' was unexpected)"),
        ({"hostname": "web host"}, "2.96", "letters, digits"),
        ({"hostname": "x" * 64}, "2.93", "1 to 63"),
        ({"hostname": "web", "max_count": 2}, "2.96", "more than one server"),
        ({"networks": [{"uuid": "x", "fixed_ip": "10.0.0.9"}]}, "2.96", "fixed_ip is not supported"),
        ({"networks": [{"uuid": "x", "mtu": 1}]}, "2.96", "('mtu' was unexpected)"),
    ],
)
def test_create_refuses_every_input_it_cannot_honour(world, host, image, tiny, extra, version, message):
    body = create_body(image, tiny, **extra)
    if version < "2.37":
        body["server"].pop("networks")
    response = world["member"].post("/servers", body, version)
    assert response.status_code == 400, response.content
    assert message in fault(response)
    assert not Instance.objects.exists()


def test_create_refuses_block_device_fields_it_does_not_honour(world, host, image, tiny):
    bdm = {"uuid": str(image.pk), "boot_index": 0, "source_type": "image", "destination_type": "local"}
    body = create_body(image, tiny, block_device_mapping_v2=[{**bdm, "disk_bus": "scsi"}])
    response = world["member"].post("/servers", body, "2.96")
    assert response.status_code == 400 and "disk_bus is not supported" in fault(response)
    ok = create_body(
        image, tiny, block_device_mapping_v2=[{**bdm, "delete_on_termination": True, "tag": None}]
    )
    assert world["member"].post("/servers", ok, "2.96").status_code == 202


def test_create_refuses_scheduler_hints_it_does_not_honour(world, host, image, tiny):
    body = {**create_body(image, tiny), "os:scheduler_hints": {"same_host": "x"}}
    response = world["member"].post("/servers", body, "2.96")
    assert response.status_code == 400 and "Scheduler hints ['same_host']" in fault(response)


def test_create_keeps_tags_and_the_default_security_group(world, host, image, tiny, capture):
    server = launch(world, host, image, tiny, capture, tags=["b", "a"], security_groups=[{"name": "default"}])
    body = show(world, server)
    assert body["tags"] == ["a", "b"]
    assert body["security_groups"] == [{"name": "default"}]
    Instance.objects.filter(pk=server).update(security_groups=[])
    assert "security_groups" not in show(world, server)


# --- instance actions --------------------------------------------------------------------------


def test_every_action_answers_with_its_request_id_and_is_logged_under_it(world, host, server, capture):
    response = act(world, host, server, {"os-stop": None}, capture)
    request_id = response["x-openstack-request-id"]
    assert request_id.startswith("req-") and response["x-compute-request-id"] == request_id
    action = InstanceAction.objects.get(instance_id=server, action="stop")
    assert action.request_id == request_id
    assert world["member"].get("/flavors")["x-openstack-request-id"].startswith("req-")


@pytest.mark.parametrize("path", ["/image/v2/images", "/identity/v3", "/volume/v3/", "/compute/v2.1"])
def test_every_api_answers_with_a_fresh_request_id(world, client, path):
    first = client.get(path, HTTP_X_AUTH_TOKEN=world["member"].token)
    second = client.get(path, HTTP_X_AUTH_TOKEN=world["member"].token)
    assert first["x-openstack-request-id"].startswith("req-")
    assert first["x-openstack-request-id"] != second["x-openstack-request-id"]


def test_dashboard_pages_carry_no_request_id_header(world, client):
    assert "x-openstack-request-id" not in client.get("/auth/login/")


def test_the_action_list_and_its_events(world, host, server, capture):
    stop = act(world, host, server, {"os-stop": None}, capture)
    request_id = stop["x-openstack-request-id"]
    listed = world["member"].get(f"/servers/{server}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in listed] == ["stop", "create"]
    assert set(listed[0]) == {
        "action", "instance_uuid", "message", "project_id", "request_id", "start_time", "user_id",
    }  # fmt: skip
    assert listed[0]["request_id"] == request_id and listed[0]["message"] is None

    old = world["member"].get(f"/servers/{server}/os-instance-actions/{request_id}", "2.50").json()
    assert "events" not in old["instanceAction"]
    member = world["member"].get(f"/servers/{server}/os-instance-actions/{request_id}", "2.51").json()
    (event,) = member["instanceAction"]["events"]
    assert event["event"] == "compute_stop_instance" and event["result"] == "Success"
    assert event["start_time"] <= event["finish_time"]
    assert "traceback" not in event and "host" not in event

    admin = world["admin"].get(f"/servers/{server}/os-instance-actions/{request_id}", "2.84").json()
    (event,) = admin["instanceAction"]["events"]
    assert event["host"] == "host1" and len(event["hostId"]) == 56
    assert event["traceback"] is None and event["details"] is None
    missing = world["member"].get(f"/servers/{server}/os-instance-actions/req-nope")
    assert (missing.status_code, fault(missing)) == (404, "Action req-nope not found")


def test_a_failed_action_shows_error_with_its_traceback_for_an_admin(world, host, server, capture):
    host.driver.destroy(server)  # the guest vanished behind the agent's back: pausing it fails
    response = act(world, host, server, {"pause": None}, capture)
    request_id = response["x-openstack-request-id"]
    action = world["admin"].get(f"/servers/{server}/os-instance-actions/{request_id}", "2.84").json()
    action = action["instanceAction"]
    assert action["message"] == "Error"
    (event,) = action["events"]
    assert event["event"] == "compute_pause_instance"
    assert event["result"] == "Error" and "no guest" in event["traceback"]
    assert "no guest" in event["details"]
    member = world["member"].get(f"/servers/{server}/os-instance-actions/{request_id}", "2.84").json()
    assert "traceback" not in member["instanceAction"]["events"][0]


def test_action_list_paging_and_changes_since_from_2_58(world, host, server, capture):
    for body in ({"os-stop": None}, {"os-start": None}):
        act(world, host, server, body, capture)
    url = f"/servers/{server}/os-instance-actions"
    first = world["member"].get(f"{url}?limit=2", "2.58").json()
    assert [a["action"] for a in first["instanceActions"]] == ["start", "stop"]
    assert "updated_at" in first["instanceActions"][0]
    marker = first["instanceActions"][-1]["request_id"]
    assert marker in first["links"][0]["href"]
    rest = world["member"].get(f"{url}?limit=2&marker={marker}", "2.58").json()
    assert [a["action"] for a in rest["instanceActions"]] == ["create"]
    assert world["member"].get(f"{url}?marker=req-x", "2.58").status_code == 400
    later = InstanceAction.objects.get(instance_id=server, action="start").updated_at.isoformat()
    since = world["member"].get(f"{url}?changes-since={later.replace('+', '%2B')}", "2.58").json()
    assert [a["action"] for a in since["instanceActions"]] == ["start"]


def test_a_deleted_servers_actions_are_listed_from_2_21(world, host, server, capture):
    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{server}").status_code == 204
    Deliver(host)(callbacks)
    url = f"/servers/{server}/os-instance-actions"
    assert world["member"].get(url, "2.20").status_code == 404
    actions = world["member"].get(url, "2.21").json()["instanceActions"]
    assert [a["action"] for a in actions] == ["delete", "create"]
    assert InstanceActionEvent.objects.filter(
        action__instance_id=server, event="compute_terminate_instance"
    ).exists()


@pytest.mark.parametrize(("persona", "expected"), [("reader", 200), ("outsider", 404), ("admin", 200)])
def test_instance_actions_follow_their_policies(world, server, persona, expected):
    assert world[persona].get(f"/servers/{server}/os-instance-actions").status_code == expected


def test_access_addresses_given_at_create_are_kept_shown_and_changed_by_put(
    world, host, image, tiny, capture
):
    server = launch(
        world,
        host,
        image,
        tiny,
        capture,
        accessIPv4="1.1.1.1",
        accessIPv6="0000:0000:0000:0000:0000:babe:220.12.22.2",
    )
    shown = show(world, server, "2.1")
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("1.1.1.1", "::babe:dc0c:1602")
    response = world["member"].put(f"/servers/{server}", {"server": {"accessIPv4": "2.2.2.2"}}, "2.1")
    assert response.status_code == 200, response.content
    assert response.json()["server"]["accessIPv4"] == "2.2.2.2"
    assert response.json()["server"]["accessIPv6"] == "::babe:dc0c:1602"
    world["member"].put(f"/servers/{server}", {"server": {"accessIPv6": ""}}, "2.1")
    row = Instance.objects.get(pk=server)
    assert (row.access_ip_v4, row.access_ip_v6) == ("2.2.2.2", None)


def test_an_admin_password_given_at_create_is_answered_back(world, host, image, tiny):
    response = world["member"].post("/servers", create_body(image, tiny, adminPass="s3cret-Pass"), "2.96")
    assert response.status_code == 202, response.content
    assert response.json()["server"]["adminPass"] == "s3cret-Pass"


@pytest.mark.parametrize(
    ("version", "extended"), [("2.47", False), ("2.74", False), ("2.75", True), ("2.96", True)]
)
def test_put_answers_with_nova_s_update_view_for_the_microversion(world, server, version, extended):
    body = world["admin"].put(f"/servers/{server}", {"server": {"name": "n"}}, version).json()["server"]
    assert ("OS-EXT-STS:vm_state" in body) is extended
    assert ("security_groups" in body, "key_name" in body, "config_drive" in body) == (extended,) * 3
    assert ("server_groups" in body) is extended
    assert not any(key.startswith("OS-EXT-SRV-ATTR:") for key in body) or extended
    for entries in body["addresses"].values():
        assert all(set(entry) == {"version", "addr"} for entry in entries) or extended
