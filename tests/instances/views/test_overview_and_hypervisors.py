"""The Overview's quota charts and usage summary, and Admin → Hypervisors, through the real URLs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import bulk
from instances.compute import agent
from instances.compute.manager import ComputeManager
from instances.models import ComputeHost, Instance
from instances.services import quotas
from instances.views.overview import usage_summary
from instances.virt.qemu import QemuDriver
from tests.instances.conftest import Deliver, make_host
from tests.instances.dashboard_support import browser_for, bulk_instances, launch_in_dashboard


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def gauge(page: str, key: str) -> str:
    return page.split(f'data-gauge="{key}"')[1].split("</figure>")[0]


def test_the_overview_draws_a_donut_per_quota(world, host, image, tiny, capture):
    quotas.set_limits(world["home"], {"instances": 4, "cores": 8})
    launch_in_dashboard(browser_for("member"), host, image, tiny, capture, count=2)
    page = browser_for("member").get("/").content.decode()
    assert 'data-used="2" data-limit="4"' in gauge(page, "instances")
    assert "Used 2 of 4" in gauge(page, "instances") and ">50%<" in gauge(page, "instances")
    assert "Used 2 of 8" in gauge(page, "cores")
    assert "Used 256.0\xa0MB of 50.0\xa0GB" in gauge(page, "ram")
    assert "Used 1 of 100" in gauge(page, "images")  # the marker image belongs to home
    assert "stroke-dasharray" in gauge(page, "image_storage")
    assert "Used 0 of 10" in gauge(page, "volumes")
    assert "of 1000.0\xa0GB" in gauge(page, "volume_storage")
    assert 'data-state="Active"' in page


def test_a_full_quota_is_drawn_in_the_full_colour(world, host, image, tiny, capture):
    quotas.set_limits(world["home"], {"instances": 1})
    launch_in_dashboard(browser_for("member"), host, image, tiny, capture)
    assert 'class="used full"' in gauge(browser_for("member").get("/").content.decode(), "instances")


def test_the_usage_summary_counts_resource_hours_in_the_period(world, tiny):
    now = timezone.now()
    since = now - timedelta(hours=10)
    bulk_instances(world["home"], 1, flavor=tiny)  # 1 vCPU, 128 MB, 1 GB
    Instance.objects.update(launched_at=now - timedelta(hours=20))
    bulk_instances(world["home"], 1, flavor=tiny)
    Instance.objects.filter(name="bulk-0001").update(
        launched_at=now - timedelta(hours=5),
        deleted=True,
        vm_state="deleted",
        terminated_at=now - timedelta(hours=3),
    )
    usage = usage_summary(world["home"].pk, since, now)
    assert usage.instances == 2
    assert usage.vcpu_hours == pytest.approx(12, abs=0.01)  # 10 h + 2 h
    assert usage.disk_gb_hours == pytest.approx(12, abs=0.01)


def test_the_overview_costs_the_same_queries_for_5_or_500_instances(world, tiny):
    client = browser_for("member")
    bulk_instances(world["home"], 5, flavor=tiny)
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    bulk_instances(world["home"], 495, flavor=tiny)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/").content.decode()
    assert len(many) == len(few)
    assert "Used 500 of 10" in gauge(page, "instances") and 'class="used full"' in gauge(page, "instances")
    print(f"\noverview: {len(many)} queries at 500 instances")


def test_hypervisors_show_capacity_bars_that_follow_launch_and_delete(world, host, image, tiny, capture):
    admin = browser_for("admin")
    page = admin.get("/admin/hypervisors/").content.decode()
    card = page.split('data-host="host1"')[1]
    assert 'data-testid="vcpus-used">0 / 8' in card and "2 × 4" in card
    assert 'data-testid="ram-used">0 MB / 4096 MB' in card
    assert ">Up<" in card and ">Enabled<" in card
    (instance,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture)
    card = admin.get("/admin/hypervisors/").content.decode().split('data-host="host1"')[1]
    assert 'data-testid="vcpus-used">1 / 8' in card and 'data-testid="ram-used">128 MB / 4096 MB' in card
    assert 'data-testid="disk-used">2 GB / 100 GB' in card and "1 instance<" in card
    job = browser_for("member").post("/instances/batch/delete/", {"id": [instance.pk], "confirm": "1"})
    with capture() as callbacks:
        bulk.run_job(job.url.split("/")[2])
    Deliver(host)(callbacks)
    card = admin.get("/admin/hypervisors/").content.decode().split('data-host="host1"')[1]
    assert 'data-testid="vcpus-used">0 / 8' in card and "0 instances<" in card


def test_the_toggle_disables_and_enables_a_host(world, host):
    admin = browser_for("admin")
    compute = ComputeHost.objects.get()
    admin.post(f"/admin/hypervisors/{compute.pk}/toggle/", {"enable": "0", "reason": "maintenance"})
    compute.refresh_from_db()
    assert (compute.enabled, compute.disabled_reason) == (False, "maintenance")
    assert "Disabled: maintenance" in admin.get("/admin/hypervisors/").content.decode()
    admin.post(f"/admin/hypervisors/{compute.pk}/toggle/", {"enable": "1"})
    compute.refresh_from_db()
    assert compute.enabled and compute.disabled_reason == ""


def test_members_cannot_see_or_toggle_hypervisors(world, host):
    member = browser_for("member")
    assert member.get("/admin/hypervisors/").status_code == 403
    compute = ComputeHost.objects.get()
    assert member.post(f"/admin/hypervisors/{compute.pk}/toggle/", {"enable": "0"}).status_code == 403
    assert ComputeHost.objects.get().enabled


def test_the_summary_adds_up_every_host(world, host, tmp_path):

    make_host(tmp_path, "host2", vcpus=4, memory_mb=2048, disk_gb=50)
    page = browser_for("admin").get("/admin/hypervisors/").content.decode()
    summary = page.split('data-testid="hypervisor-summary"')[1]
    vcpus = sum(h.vcpus * h.cpu_allocation_ratio for h in ComputeHost.objects.all())
    assert ComputeHost.objects.count() == 2
    assert f'data-gauge="vcpus" data-used="0" data-limit="{vcpus}"' in summary
    assert 'data-gauge="ram" data-used="0" data-limit="6144.0"' in summary


def test_a_host_whose_kvm_fails_the_probe_runs_tcg_and_the_hypervisors_page_and_api_say_why(world, tmp_path):
    # A QEMU that cannot run the probe guest: the host's guests get TCG, whatever /dev/kvm says.
    failing = tmp_path / "qemu-system-x86_64"
    failing.write_text("#!/bin/sh\necho 'failed to set MSR 0x10a' >&2\nexit 1\n")
    failing.chmod(0o755)
    state = tmp_path / "state-kvmless"
    manager = ComputeManager("kvmless", QemuDriver(state, binary=str(failing), accel="auto"), state)
    host = agent.register(manager, "nova", {"vcpus": 2, "memory_mb": 2048, "disk_gb": 10})
    assert (host.hypervisor_type, host.accelerator) == ("qemu", "tcg")
    card = browser_for("admin").get("/admin/hypervisors/").content.decode().split('data-host="kvmless"')[1]
    line = card.split('data-testid="accelerator"')[1].split("</div>")[0]
    assert "TCG" in line and host.accelerator_reason in line
    assert host.accelerator_reason.startswith(("KVM does not work here", "/dev/kvm cannot be opened"))
    shown = world["admin"].get(f"/os-hypervisors/{host.pk}", "2.28").json()["hypervisor"]
    assert shown["hypervisor_type"] == "QEMU"
    assert shown["cpu_info"]["accelerator"] == "tcg"
    assert shown["cpu_info"]["accelerator_reason"] == host.accelerator_reason
