"""Edit Instance, Lock / Unlock and Update Metadata in the Instances panel, through the real
URLs on an in-process compute host with the fake driver."""

from __future__ import annotations

import pytest

from dashboard import bulk
from instances.choices import VmState
from instances.models import Instance, InstanceAction, InstanceTag
from tests.instances.conftest import Deliver
from tests.instances.dashboard_support import browser_for, launch_in_dashboard


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def running(world, host, image, tiny, capture) -> Instance:
    (instance,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture, name="web")
    instance.refresh_from_db()
    assert instance.vm_state == VmState.ACTIVE
    return instance


def test_edit_instance_renames_and_describes_it(world, running):
    client = browser_for("member")
    page = client.get("/instances/").content.decode()
    assert f"/instances/{running.pk}/edit/" in page
    form = client.get(f"/instances/{running.pk}/edit/").content.decode()
    assert 'value="web"' in form
    response = client.post(
        f"/instances/{running.pk}/edit/", {"name": "web-2", "description": "front end", "next": "/instances/"}
    )
    assert response.status_code == 302 and response["Location"] == "/instances/"
    running.refresh_from_db()
    assert (running.name, running.description) == ("web-2", "front end")


def test_edit_instance_refuses_an_empty_name(world, running):
    response = browser_for("member").post(f"/instances/{running.pk}/edit/", {"name": " ", "description": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    running.refresh_from_db()
    assert running.name == "web"


def test_a_reader_has_no_edit_lock_or_metadata_actions_and_is_refused(world, running):
    client = browser_for("reader")
    page = client.get("/instances/").content.decode()
    for path in ("edit", "lock", "metadata"):
        assert f"/instances/{running.pk}/{path}/" not in page
        assert client.get(f"/instances/{running.pk}/{path}/").status_code == 403
    assert client.post(f"/instances/{running.pk}/edit/", {"name": "x"}).status_code == 403
    assert browser_for("outsider").get(f"/instances/{running.pk}/edit/").status_code == 404
    running.refresh_from_db()
    assert running.name == "web"


def test_a_locked_instance_shows_its_lock_and_refuses_a_members_action(world, running, capture):
    client = browser_for("member")
    response = client.post(f"/instances/{running.pk}/lock/", {"reason": "audit", "next": "/instances/"})
    assert response.status_code == 302
    running.refresh_from_db()
    assert (running.locked, running.locked_reason, running.locked_by) == (True, "audit", "owner")
    page = client.get("/instances/").content.decode()
    assert 'data-testid="locked"' in page
    assert (
        '<i class="bi bi-lock-fill" aria-hidden="true"></i><span class="visually-hidden">Locked: audit'
        in page
    )
    assert f"/instances/{running.pk}/unlock/" in page and f"/instances/{running.pk}/lock/" not in page

    with capture() as callbacks:
        refused = client.post(f"/instances/{running.pk}/action/stop/", HTTP_HX_REQUEST="true")
    assert callbacks == []
    assert f"Instance {running.pk} is locked" in refused.content.decode()
    batch = client.post(
        "/instances/batch/delete/", {"id": [str(running.pk)], "confirm": "1", "next": "/instances/"}
    )
    with capture() as callbacks:
        bulk.run_job(batch.url.split("/")[2])
    assert callbacks == []
    results = client.get(batch.url).content.decode()
    assert 'data-item="web" data-result="refused"' in results
    assert f"Instance {running.pk} is locked" in results
    running.refresh_from_db()
    assert (running.vm_state, running.task_state, running.deleted) == (VmState.ACTIVE, "", False)

    with capture() as callbacks:
        allowed = browser_for("admin").post(f"/instances/{running.pk}/action/stop/", HTTP_HX_REQUEST="true")
    assert "is locked" not in allowed.content.decode() and len(callbacks) == 1

    unlocked = client.post(f"/instances/{running.pk}/unlock/", HTTP_HX_REQUEST="true")
    assert unlocked.status_code == 200 and 'data-testid="locked"' not in unlocked.content.decode()
    running.refresh_from_db()
    assert not running.locked
    actions = list(InstanceAction.objects.filter(instance=running).values_list("action", "result"))
    assert ("lock", "Success") in actions and ("unlock", "Success") in actions


def test_a_member_cannot_unlock_what_an_admin_locked(world, running):
    assert browser_for("admin").post(f"/instances/{running.pk}/lock/", {"reason": ""}).status_code == 302
    client = browser_for("member")
    page = client.get("/instances/").content.decode()
    assert f"/instances/{running.pk}/unlock/" not in page
    assert client.post(f"/instances/{running.pk}/unlock/").status_code == 403
    running.refresh_from_db()
    assert running.locked and running.locked_by == "admin"


def test_update_metadata_replaces_the_set(world, running):
    Instance.objects.filter(pk=running.pk).update(metadata={"old": "1", "keep": "2"})
    client = browser_for("member")
    form = client.get(f"/instances/{running.pk}/metadata/").content.decode()
    assert "keep=2\nold=1" in form
    response = client.post(f"/instances/{running.pk}/metadata/", {"metadata": "keep=3\nnew = x y\n\n"})
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.metadata == {"keep": "3", "new": "x y"}
    InstanceTag.objects.create(instance=running, tag="prod")
    detail = client.get(f"/instances/{running.pk}/").content.decode()
    assert "<code>new</code> = x y" in detail
    assert '<span class="badge text-bg-light border me-1">prod</span>' in detail


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("novalue", "Line 1 has no &#x27;=&#x27;"),
        ("bad/key=v", "Additional properties are not allowed"),
        ("k=" + "v" * 256, "is too long"),
    ],
)
def test_update_metadata_explains_what_is_wrong(world, running, text, message):
    response = browser_for("member").post(f"/instances/{running.pk}/metadata/", {"metadata": text})
    assert response.status_code == 200 and message in response.content.decode()
    running.refresh_from_db()
    assert running.metadata == {}


def test_update_metadata_honours_the_quota(world, running, settings):
    settings.COMPUTE_QUOTA_METADATA_ITEMS = 1
    response = browser_for("member").post(f"/instances/{running.pk}/metadata/", {"metadata": "a=1\nb=2"})
    assert "Maximum number of metadata items exceeds 1" in response.content.decode()


def test_update_metadata_of_a_locked_instance_is_refused_to_a_member(world, running):
    Instance.objects.filter(pk=running.pk).update(locked=True, locked_by="owner")
    response = browser_for("member").post(f"/instances/{running.pk}/metadata/", {"metadata": "a=1"})
    assert f"Instance {running.pk} is locked" in response.content.decode()
    running.refresh_from_db()
    assert running.metadata == {}


def test_the_action_log_shows_each_actions_events(world, host, running, capture):
    with capture() as callbacks:
        browser_for("member").post(f"/instances/{running.pk}/action/stop/", HTTP_HX_REQUEST="true")
    Deliver(host)(callbacks)
    page = browser_for("member").get(f"/instances/{running.pk}/?tab=actions").content.decode()
    assert "compute_stop_instance: Success" in page
    stop = InstanceAction.objects.get(instance=running, action="stop")
    assert stop.request_id.startswith("req-") and stop.request_id in page


def test_update_metadata_offers_the_catalog_for_servers(world, running):
    page = browser_for("member").get(f"/instances/{running.pk}/metadata/").content.decode()
    assert 'data-testid="metadata-catalog"' in page and "data-metadata-text" in page
    assert 'data-key="environment"' in page  # OS::Compute::InstanceData, associated with servers
    assert 'data-key="hw_disk_bus"' not in page and 'data-key="hw:cpu_sockets"' not in page
