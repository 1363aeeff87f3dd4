"""Compute agents as real processes: two hosts and parallel launches (fake driver, so ten
guests cost nothing on a 2-core CI machine), and an agent killed in the middle of a build (QEMU)."""

from __future__ import annotations

import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.instances.bootimage import build_boot_image
from tests.instances.live import Cloud, qemu_pids, token
from tests.plugin import TEST_ROOT
from tests.support.processes import ADMIN_PASSWORD, DEMO_PASSWORD, LiveStack
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory, stack_database):
    stack = LiveStack(
        TEST_ROOT / f"two-hosts-{uuid.uuid4().hex[:8]}", extra_env={"STRATUS_VIRT_DRIVER": "fake"}
    )
    try:
        stack.start()
        # 512 MB each on offer: four 128 MB guests per host, eight in all.
        for name in ("hostA", "hostB"):
            stack.start_compute_agent(name, None, "nova", "--memory-mb", "512", "--vcpus", "8")
        yield stack
    finally:
        stack.stop()


def test_ten_parallel_launches_fill_both_hosts_and_never_overcommit(two_hosts, tmp_path):

    stack = two_hosts
    demo = Cloud(stack, token(stack, "demo", DEMO_PASSWORD, "demo"))
    admin = Cloud(stack, token(stack, "admin", ADMIN_PASSWORD, "admin"))
    flavor = admin.ensure_flavor()
    image = demo.upload_image("marker", build_boot_image(tmp_path / "m.raw", "two hosts"))

    # Forcing a host is for administrators only.
    body = {
        "name": "forced",
        "imageRef": image,
        "flavorRef": flavor,
        "networks": "none",
        "availability_zone": "nova:hostB",
    }
    assert demo.post("/servers", {"server": body}).status_code == 403
    forced = admin.create("forced", image, flavor, availability_zone="nova:hostB")
    assert admin.wait_status(forced, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "hostB"
    admin.delete(f"/servers/{forced}")
    admin.wait_deleted(forced)

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(lambda i: demo.create(f"par-{i}", image, flavor), range(10)))
    servers = [
        wait_for(
            lambda s=s: (v := admin.server(s))["status"] in ("ACTIVE", "ERROR") and v,
            timeout=60,
            what=f"server {s} to settle",
        )
        for s in ids
    ]
    active = [s for s in servers if s["status"] == "ACTIVE"]
    errors = [s for s in servers if s["status"] == "ERROR"]
    assert len(active) == 8 and len(errors) == 2
    assert all(s["fault"]["message"].startswith("No valid host was found") for s in errors)
    placed = sorted(s["OS-EXT-SRV-ATTR:host"] for s in active)
    assert placed == ["hostA"] * 4 + ["hostB"] * 4
    for name in ("hostA", "hostB"):
        host = admin.hypervisor(name)
        assert host["memory_mb_used"] == 512 <= host["memory_mb"]
    addresses = [s["addresses"]["private"][0]["addr"] for s in servers]
    assert len(set(addresses)) == 10

    for server_id in ids:
        assert demo.delete(f"/servers/{server_id}").status_code == 204
    for server_id in ids:
        demo.wait_deleted(server_id)
    assert [admin.hypervisor(n)["memory_mb_used"] for n in ("hostA", "hostB")] == [0, 0]


def test_four_parallel_launches_into_an_anti_affinity_group_on_two_hosts_place_two_apart(two_hosts, tmp_path):
    """The group's membership is read and written in the claim's transaction: of four launches
    sent at once, exactly one lands on each host and the other two fail with No valid host."""
    stack = two_hosts
    demo = Cloud(stack, token(stack, "demo", DEMO_PASSWORD, "demo"))
    admin = Cloud(stack, token(stack, "admin", ADMIN_PASSWORD, "admin"))
    flavor = admin.ensure_flavor()
    image = demo.upload_image("marker", build_boot_image(tmp_path / "g.raw", "group"))
    response = demo.post(
        "/os-server-groups", {"server_group": {"name": "apart", "policy": "anti-affinity"}}, "2.64"
    )
    assert response.status_code == 200, response.text
    group = response.json()["server_group"]["id"]

    def launch(i: int) -> str:
        body = {
            "server": {"name": f"g-{i}", "imageRef": image, "flavorRef": flavor, "networks": "none"},
            "os:scheduler_hints": {"group": group},
        }
        answer = demo.post("/servers", body)
        assert answer.status_code == 202, answer.text
        return answer.json()["server"]["id"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(launch, range(4)))
    servers = [
        wait_for(
            lambda s=s: (v := admin.server(s))["status"] in ("ACTIVE", "ERROR") and v,
            timeout=60,
            what=f"server {s} to settle",
        )
        for s in ids
    ]
    active = [s for s in servers if s["status"] == "ACTIVE"]
    errors = [s for s in servers if s["status"] == "ERROR"]
    assert len(active) == 2 and len(errors) == 2
    assert sorted(s["OS-EXT-SRV-ATTR:host"] for s in active) == ["hostA", "hostB"]
    assert all(s["fault"]["message"].startswith("No valid host was found") for s in errors)
    members = demo.get(f"/os-server-groups/{group}", "2.64").json()["server_group"]["members"]
    assert sorted(members) == sorted(ids)

    for server_id in ids:
        assert demo.delete(f"/servers/{server_id}").status_code == 204
    for server_id in ids:
        demo.wait_deleted(server_id)
    assert demo.delete(f"/os-server-groups/{group}").status_code == 204


def test_an_agent_killed_during_a_build_leaves_no_build_forever_and_no_orphan(
    live_stack, credentials, marker_image
):
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    agent = live_stack.start_compute_agent("crash1", None, "crash", env={"STRATUS_QEMU_ACCEL": "tcg"})
    try:
        server_id = admin.create(
            "doomed", marker_image["id"], marker_image["flavor"], availability_zone="crash:crash1"
        )
        agent.kill(signal.SIGKILL)
        agent.proc.wait(10)
        assert admin.server(server_id)["status"] in ("BUILD", "ACTIVE", "ERROR")
        live_stack.start_compute_agent("crash1", None, "crash", env={"STRATUS_QEMU_ACCEL": "tcg"})
        settled = wait_for(
            lambda: (s := admin.server(server_id))["status"] in ("ACTIVE", "ERROR") and s,
            timeout=60,
            what="the restarted agent to settle the interrupted build",
        )
        if settled["status"] == "ERROR":
            assert "being built" in settled["fault"]["message"]
        assert len(qemu_pids(server_id)) <= 1
        assert admin.delete(f"/servers/{server_id}").status_code == 204
        admin.wait_deleted(server_id)
        assert qemu_pids(server_id) == []
    finally:
        # Keep this host out of the other tests' way.
        service = [s for s in admin.get("/os-services", "2.53").json()["services"] if s["host"] == "crash1"]
        if service:
            admin.put(f"/os-services/{service[0]['id']}", {"status": "disabled"}, "2.53")
        live_stack.services["compute-crash1"].stop()
