"""Project → Instances and Admin → Instances through the real URLs, on an in-process compute
host with the fake driver: the table, filters and paging, row and batch actions, the detail
tabs and the query counts at 500 instances."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard import bulk
from dashboard.models import BulkJob
from images.models import Image
from instances.choices import TaskState, VmState
from instances.models import ComputeHost, Instance, InstanceAction
from tests.instances.conftest import Deliver
from tests.instances.dashboard_support import browser_for, bulk_instances, launch_in_dashboard
from tests.pages import matching_fields


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def running(world, host, image, tiny, capture) -> Instance:
    (instance,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture, name="web")
    instance.refresh_from_db()
    assert instance.vm_state == VmState.ACTIVE
    return instance


def test_the_table_lists_the_project_instances_with_their_facts(world, running, image):
    page = browser_for("member").get("/instances/").content.decode()
    assert 'data-instance="web"' in page
    assert running.address in page and "t.tiny" in page and image.name in page
    assert 'data-status="ACTIVE"' in page
    # An outsider sees none of it.
    assert 'data-instance="web"' not in browser_for("outsider").get("/instances/").content.decode()


def test_row_actions_follow_the_state(world, running):
    page = browser_for("member").get("/instances/").content.decode()
    assert "Shut Off" in page and "Soft Reboot" in page and "Pause" in page and "Suspend" in page
    assert f"/instances/{running.pk}/action/start/" not in page
    assert f"/instances/{running.pk}/action/unpause/" not in page


def test_a_reader_sees_the_table_without_actions(world, running):
    page = browser_for("reader").get("/instances/").content.decode()
    assert 'data-instance="web"' in page
    assert "/action/" not in page and "Launch Instance" not in page and "Create Snapshot" not in page


def test_the_server_refuses_an_action_the_state_does_not_allow(world, running, capture):
    client = browser_for("member")
    with capture() as callbacks:
        response = client.post(f"/instances/{running.pk}/action/start/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and callbacks == []
    assert "Cannot &#x27;start&#x27; instance" in response.content.decode()


def test_the_server_refuses_an_action_the_policy_does_not_allow(world, running):
    response = browser_for("reader").post(f"/instances/{running.pk}/action/stop/")
    assert response.status_code == 403
    assert Instance.objects.get(pk=running.pk).task_state == TaskState.NONE


def test_stop_from_a_row_returns_a_polling_row_and_the_agent_settles_it(world, running, host, capture):
    client = browser_for("member")
    with capture() as callbacks:
        response = client.post(f"/instances/{running.pk}/action/stop/", HTTP_HX_REQUEST="true")
    row = response.content.decode()
    assert 'hx-trigger="load delay:2s"' in row and "Powering Off" in row
    Deliver(host)(callbacks)
    settled = client.get(f"/instances/{running.pk}/row/?poll=2").content.decode()
    assert 'data-status="SHUTOFF"' in settled and "hx-trigger" not in settled.split(">")[0]
    assert f"/instances/{running.pk}/action/start/" in settled


def test_a_polling_row_backs_off_to_30_seconds(world, running):
    Instance.objects.filter(pk=running.pk).update(task_state=TaskState.REBOOTING)
    client = browser_for("member")
    delays = []
    poll = 0
    for _ in range(6):
        row = client.get(f"/instances/{running.pk}/row/?poll={poll}").content.decode()
        poll = int(row.split('data-poll="')[1].split('"')[0])
        delays.append(poll)
    assert delays == [2, 4, 8, 16, 30, 30]


def test_a_deleted_row_leaves_the_table(world, running):
    Instance.objects.filter(pk=running.pk).update(deleted=True, vm_state=VmState.DELETED)
    assert browser_for("member").get(f"/instances/{running.pk}/row/").content == b""


def test_batch_confirm_lists_what_will_happen_and_reports_each_result(
    world, host, image, tiny, capture, running
):
    client = browser_for("member")
    (stopped,) = launch_in_dashboard(client, host, image, tiny, capture, name="db")
    with capture() as callbacks:
        client.post(f"/instances/{stopped.pk}/action/stop/")
    Deliver(host)(callbacks)
    confirm = client.get(f"/instances/batch/stop/?id={running.pk}&id={stopped.pk}").content.decode()
    assert "Confirm Shut Off" in confirm and "skipped: shut off is not possible" in confirm
    with capture() as sent:
        response = client.post("/instances/batch/stop/", {"id": [running.pk, stopped.pk], "confirm": "1"})
    # The request only records the job and hands it to a worker; the worker begins each action.
    job = BulkJob.objects.get()
    assert response.url == f"/jobs/{job.pk}/" and [c.args[0] for c in sent] == ["dashboard.bulk_run"]
    assert Instance.objects.get(pk=running.pk).task_state == TaskState.NONE
    with capture() as callbacks:
        assert bulk.run_job(str(job.pk)) == "done"
    page = client.get(response.url).content.decode()
    assert "1 done" in page and "1 refused" in page
    assert 'data-item="web" data-result="done"' in page
    assert 'data-item="db" data-result="refused"' in page and "Cannot &#x27;stop&#x27;" in page
    assert len(callbacks) == 1
    # Run again (a redelivered message): nothing is begun twice.
    BulkJob.objects.filter(pk=job.pk).update(status="running")
    with capture() as again:
        assert bulk.run_job(str(job.pk)) == "done"
    assert again == []


def run_jobs(capture) -> list:
    with capture() as callbacks:
        for job in BulkJob.objects.all():
            bulk.run_job(str(job.pk))
    return callbacks


def test_batch_delete_deletes_through_the_service(world, running, host, capture):
    client = browser_for("member")
    client.post("/instances/batch/delete/", {"id": [running.pk], "confirm": "1"})
    Deliver(host)(run_jobs(capture))
    assert Instance.objects.get(pk=running.pk).deleted
    assert ComputeHost.objects.get().vcpus_used == 0


def test_all_matching_acts_on_every_instance_the_filter_matches_across_pages(world, host, capture):
    compute = ComputeHost.objects.get()
    bulk_instances(world["home"], 3, host=compute)
    Instance.objects.update(name="keep")
    bulk_instances(world["home"], 45, host=compute)
    bulk_instances(world["other"], 5, host=compute)
    client = browser_for("member")
    listing = client.get("/instances/?name=bulk").content.decode()
    assert 'data-total="45"' in listing and "Select all 45 matching instances" in listing
    confirm = client.get("/instances/batch/stop/", {"all": "1", "name": "bulk"}).content.decode()
    assert "all 45 instances matching the filter" in confirm and 'name="all" value="1"' in confirm
    client.post("/instances/batch/stop/", {"all": "1", "name": "bulk", "confirm": "1"})
    job = BulkJob.objects.get()
    assert job.total == 45
    assert not job.items.exclude(name__startswith="bulk").exists()
    run_jobs(capture)
    stopping = Instance.objects.filter(task_state=TaskState.POWERING_OFF)
    assert stopping.count() == 45 and set(stopping.values_list("project", flat=True)) == {world["home"].pk}


def test_admin_all_matching_keeps_the_host_and_project_filters(world, host, capture):
    """Hypervisors → "N instances" (?host=X) → Select all N matching: the job acts on exactly the
    instances the page counts, on that host only."""
    compute = ComputeHost.objects.get()
    other = ComputeHost.objects.create(
        name="host2", hypervisor_type="qemu", arch="x86_64", vcpus=8, memory_mb=8192, local_gb=100
    )
    bulk_instances(world["home"], 4, host=compute)
    bulk_instances(world["other"], 3, host=compute)
    bulk_instances(world["home"], 6, host=other)
    client = browser_for("admin")
    listing = client.get("/admin/instances/", {"host": "host2"}).content.decode()
    assert 'data-total="6"' in listing
    form = dict(matching_fields(listing))  # what the browser posts after "Select all 6 matching"
    assert form == {"all": "1", "admin": "1", "host": "host2"}
    confirm = client.get("/instances/batch/stop/", form).content.decode()
    assert "all 6 instances matching the filter" in confirm and 'name="host" value="host2"' in confirm
    client.post("/instances/batch/stop/", {**form, "confirm": "1"})
    job = BulkJob.objects.get()
    assert job.total == 6
    run_jobs(capture)
    stopping = Instance.objects.filter(task_state=TaskState.POWERING_OFF)
    assert set(stopping.values_list("host__name", flat=True)) == {"host2"} and stopping.count() == 6
    # Host and project together.
    BulkJob.objects.all().delete()
    form = {"all": "1", "admin": "1", "host": compute.name, "project": str(world["other"].pk), "confirm": "1"}
    client.post("/instances/batch/stop/", form)
    assert BulkJob.objects.get().total == 3


def test_batch_actions_ignore_other_projects_instances(world, running):
    response = browser_for("outsider").post("/instances/batch/delete/", {"id": [running.pk], "confirm": "1"})
    assert response.status_code == 302
    assert not Instance.objects.get(pk=running.pk).deleted


def test_filters_and_paging_are_kept_in_the_url(world, host, tiny):
    bulk_instances(world["home"], 45, host=ComputeHost.objects.get(), flavor=tiny)
    Instance.objects.filter(name="bulk-0007").update(vm_state=VmState.STOPPED)
    client = browser_for("member")
    page = client.get("/instances/?page=3").content.decode()
    assert "Displaying 5 of 45 items" in page and "Page 3 of 3" in page
    page = client.get("/instances/?status=SHUTOFF").content.decode()
    assert "Displaying 1 of 1 item" in page and 'data-instance="bulk-0007"' in page
    page = client.get("/instances/?name=bulk-001&page=1").content.decode()
    assert "Displaying 10 of 10 items" in page
    page = client.get(f"/instances/?flavor={tiny.pk}&name=bulk-004").content.decode()
    assert "Displaying 5 of 5 items" in page and "name=bulk-004" in page


def test_the_detail_shows_overview_disks_and_the_action_log(world, running, image):
    client = browser_for("member")
    page = client.get(f"/instances/{running.pk}/").content.decode()
    assert str(running.pk) in page and running.address in page and image.name in page
    assert "<code>vda</code>" in page and "<code>vdb</code>" in page and "kept for volumes" in page
    assert 'data-testid="host"' not in page  # members do not see the host
    admin_page = browser_for("admin").get(f"/instances/{running.pk}/").content.decode()
    assert 'data-testid="host">host1<' in admin_page
    log = client.get(f"/instances/{running.pk}/?tab=actions").content.decode()
    assert 'data-action="create"' in log and "mia" in log


def test_the_detail_shows_the_fault_of_an_instance_in_error(world, running):
    Instance.objects.filter(pk=running.pk).update(vm_state=VmState.ERROR, fault_message="Disk on fire")
    page = browser_for("member").get(f"/instances/{running.pk}/").content.decode()
    assert 'data-testid="fault"' in page and "Disk on fire" in page


def test_snapshot_from_the_dashboard_records_a_queued_image(world, running, capture):
    client = browser_for("member")
    with capture() as callbacks:
        response = client.post(f"/instances/{running.pk}/snapshot/", {"name": "web-snap"})
    assert response.status_code == 302
    image = Image.objects.get(name="web-snap")
    assert image.owner == world["home"].pk and image.properties["instance_uuid"] == str(running.pk)
    assert InstanceAction.objects.filter(instance=running, action="createImage").exists()
    assert len(callbacks) == 1


def test_admin_instances_lists_every_project_with_its_name(world, running, tiny):
    bulk_instances(world["other"], 2, flavor=tiny)
    page = browser_for("admin").get("/admin/instances/").content.decode()
    assert page.count('data-testid="project"') == 3
    assert ">home<" in page and ">other<" in page
    assert browser_for("member").get("/admin/instances/").status_code == 403
    only = browser_for("admin").get(f"/admin/instances/?project={world['other'].pk}").content.decode()
    assert only.count('data-testid="project"') == 2


@pytest.mark.parametrize("url", ["/instances/", "/admin/instances/"])
def test_the_table_costs_the_same_queries_for_5_or_500_instances(world, host, tiny, image, url):
    client = browser_for("admin")
    where = world["admin_home"] if url == "/instances/" else world["home"]
    compute = ComputeHost.objects.get()
    bulk_instances(where, 5, host=compute, flavor=tiny, image_id=str(image.pk))
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    bulk_instances(
        where, 495, host=compute, flavor=tiny, image_id=str(image.pk), task_state=TaskState.REBOOTING
    )
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    assert "of 500 items" in page
    print(f"\n{url}: {len(many)} queries at 500 instances")
