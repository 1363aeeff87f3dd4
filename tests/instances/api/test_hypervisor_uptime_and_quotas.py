"""Nova's hypervisor uptime (the host's uptime line from its agent, at
``/os-hypervisors/{id}/uptime`` until 2.87 and in the hypervisor itself from 2.88) and the DELETE
of a project's quota set, and the default quota class."""

from __future__ import annotations

import re
import uuid

import redis
from django.conf import settings

from dashboard.models import QuotaLimit
from instances import tasks
from instances.compute import agent
from instances.compute.uptime import uptime_line
from instances.models import ComputeHost, KeyPair


def test_the_uptime_line_reads_like_the_uptime_command(tmp_path):
    proc = tmp_path / "uptime"
    proc.write_text("200000.50 390000.00\n")
    line = uptime_line(proc)
    assert re.fullmatch(
        r" \d\d:\d\d:\d\d up 2 days, 7:33,  load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d", line
    )
    proc.write_text("59.9 1.0\n")
    assert " up 0 min," in uptime_line(proc)
    proc.write_text("3700 1.0\n")
    assert " up 1:01," in uptime_line(proc)


def test_the_agent_answers_the_uptime_question_on_the_reply_list(host):
    reply_to = f"stratus:compute-reply:{uuid.uuid4().hex}"
    agent.configure(host)  # this process plays the host's agent
    try:
        tasks.host_uptime(reply_to)
    finally:
        agent.configure(None)
    answer = redis.Redis.from_url(settings.REDIS_URL).blpop([reply_to], timeout=5)
    assert answer is not None and " up " in answer[1].decode()
    assert "load average:" in answer[1].decode()


def test_the_uptime_is_for_admins_and_null_while_the_host_is_down(world, host):
    ComputeHost.objects.update(last_heartbeat=None)
    hypervisor = world["admin"].get("/os-hypervisors", "2.53").json()["hypervisors"][0]
    response = world["admin"].get(f"/os-hypervisors/{hypervisor['id']}/uptime", "2.53")
    assert response.status_code == 200
    assert response.json()["hypervisor"] == {
        "id": hypervisor["id"],
        "hypervisor_hostname": "host1",
        "state": "down",
        "status": "enabled",
        "uptime": None,
    }
    assert world["member"].get(f"/os-hypervisors/{hypervisor['id']}/uptime", "2.53").status_code == 403
    missing = world["admin"].get(f"/os-hypervisors/{uuid.uuid4()}/uptime", "2.53")
    assert missing.status_code == 404
    assert world["admin"].get(f"/os-hypervisors/{hypervisor['id']}/uptime", "2.88").status_code == 404
    shown = world["admin"].get(f"/os-hypervisors/{hypervisor['id']}", "2.88").json()["hypervisor"]
    assert shown["uptime"] is None


def test_deleting_a_quota_set_puts_the_project_back_on_the_defaults(world, host):
    home = world["home"].pk
    assert world["admin"].put(f"/os-quota-sets/{home}", {"quota_set": {"ram": 5120}}).status_code == 200
    assert world["member"].delete(f"/os-quota-sets/{home}").status_code == 403
    assert QuotaLimit.objects.filter(project_id=home, resource="ram").exists()
    assert world["admin"].delete(f"/os-quota-sets/{home}").status_code == 202
    assert not QuotaLimit.objects.filter(project_id=home).exists()
    ram = world["admin"].get(f"/os-quota-sets/{home}").json()["quota_set"]["ram"]
    assert ram == settings.COMPUTE_QUOTA_RAM


def test_the_default_quota_class_changes_every_projects_defaults_and_is_enforced(world, host, settings):
    shown = world["admin"].get("/os-quota-class-sets/default", "2.1").json()["quota_class_set"]
    assert shown["id"] == "default" and shown["instances"] == settings.COMPUTE_QUOTA_INSTANCES
    assert {"floating_ips", "injected_files", "key_pairs", "metadata_items"} <= set(shown)
    newer = world["admin"].get("/os-quota-class-sets/default", "2.57").json()["quota_class_set"]
    assert "floating_ips" not in newer and "injected_files" not in newer and "server_groups" in newer
    assert world["member"].get("/os-quota-class-sets/default", "2.1").status_code == 403
    assert world["admin"].get("/os-quota-class-sets/gold", "2.1").status_code == 404
    changed = {k: v + 100 for k, v in shown.items() if k != "id"}
    response = world["admin"].put("/os-quota-class-sets/default", {"quota_class_set": changed}, "2.1")
    assert response.status_code == 200, response.content
    assert response.json()["quota_class_set"] == changed
    home = world["home"].pk
    quota = world["member"].get(f"/os-quota-sets/{home}", "2.1").json()["quota_set"]
    assert (quota["instances"], quota["metadata_items"]) == (changed["instances"], changed["metadata_items"])
    absolute = world["member"].get("/limits", "2.1").json()["limits"]["absolute"]
    assert absolute["maxTotalKeypairs"] == changed["key_pairs"]
    world["admin"].put("/os-quota-class-sets/default", {"quota_class_set": {"key_pairs": 0}}, "2.1")
    over = world["member"].post("/os-keypairs", {"keypair": {"name": "k"}}, "2.1")
    assert over.status_code == 403 and not KeyPair.objects.exists()
    bad = world["admin"].put("/os-quota-class-sets/default", {"quota_class_set": {"ram": -2}}, "2.1")
    assert bad.status_code == 400
    unknown = world["admin"].put(
        "/os-quota-class-sets/default", {"quota_class_set": {"floating_ips": 1}}, "2.57"
    )
    assert unknown.status_code == 400
    assert (
        world["admin"].get("/os-quota-class-sets/default", "2.1").json()["quota_class_set"]["ram"]
        == (changed["ram"])
    )
