"""Resize, rebuild and rescue in the dashboard, through the real URLs on in-process fake hosts: the
Resize dialog's flavor table with its reasons, Confirm/Revert on the row, Rescue and Unrescue."""

from __future__ import annotations

import pytest

from flavors import services
from instances.choices import VmState
from instances.models import ComputeHost, Instance, InstanceAction
from instances.services import quotas
from tests.instances.api.test_server_resize_rebuild_rescue import deliver
from tests.instances.conftest import make_host
from tests.instances.dashboard_support import browser_for, launch_in_dashboard


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def small(db):
    return services.create_flavor(name="t.small", vcpus=2, ram=256, disk=2, ephemeral=1)


@pytest.fixture
def host2(host, tmp_path):
    return make_host(tmp_path, "host2")


@pytest.fixture
def running(world, host, host2, image, tiny, capture) -> Instance:
    (instance,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture, name="web")
    instance.refresh_from_db()
    assert instance.vm_state == VmState.ACTIVE
    return instance


def reason_of(page: str, flavor_name: str) -> str:
    row = page.split(f'data-flavor="{flavor_name}"', 1)[1].split("</tr>", 1)[0]
    return row


def test_the_resize_dialog_lists_flavors_with_the_reasons_they_cannot_be_used(
    world, running, small, settings
):
    services.create_flavor(name="t.huge", vcpus=64, ram=10**6, disk=2, ephemeral=1)
    services.create_flavor(name="t.flat", vcpus=1, ram=128, disk=1, ephemeral=0)
    page = browser_for("member").get(f"/instances/{running.pk}/resize/").content.decode()
    assert 'data-testid="current-flavor">t.tiny' in page
    assert "This is the instance&#x27;s flavor now." in reason_of(page, "t.tiny")
    assert "Disks never shrink" in reason_of(page, "t.flat")
    assert "Over your quota of vCPUs" in reason_of(page, "t.huge")
    assert "Larger than any other enabled compute host" in reason_of(page, "t.huge")
    small_row = reason_of(page, "t.small")
    assert "Yes" in small_row and "disabled" not in small_row


def test_the_resize_dialog_says_when_only_the_same_host_could_take_it(
    world, host, image, tiny, small, capture
):
    (instance,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture, name="solo")
    page = browser_for("member").get(f"/instances/{instance.pk}/resize/").content.decode()
    assert "resizing on the same host is not allowed" in reason_of(page, "t.small")


def test_resize_then_confirm_from_the_row(world, running, small, host, host2, capture):
    client = browser_for("member")
    with capture() as callbacks:
        response = client.post(
            f"/instances/{running.pk}/resize/", {"flavor": small.pk, "next": "/instances/"}
        )
    assert response.status_code == 302 and response["Location"] == "/instances/"
    deliver(capture, callbacks, host, host2)
    page = client.get("/instances/").content.decode()
    assert 'data-status="VERIFY_RESIZE"' in page and "Verify Resize" in page
    assert f"/instances/{running.pk}/op/confirm_resize/" in page
    assert f"/instances/{running.pk}/op/revert_resize/" in page
    assert f"/instances/{running.pk}/resize/" not in page  # no second resize while one waits

    with capture() as callbacks:
        response = client.post(f"/instances/{running.pk}/op/confirm_resize/", {"next": "/instances/"})
    assert response.status_code == 302
    deliver(capture, callbacks, host, host2)
    running.refresh_from_db()
    assert (running.vm_state, running.flavor_name, running.host.name) == (VmState.ACTIVE, "t.small", "host2")
    assert InstanceAction.objects.filter(instance=running, action="confirmResize", result="Success").exists()


def test_resize_then_revert_from_the_row(world, running, small, host, host2, capture):
    client = browser_for("member")
    with capture() as callbacks:
        client.post(f"/instances/{running.pk}/resize/", {"flavor": small.pk})
    deliver(capture, callbacks, host, host2)
    with capture() as callbacks:
        client.post(f"/instances/{running.pk}/op/revert_resize/", {"next": "/instances/"})
    assert 'data-status="REVERT_RESIZE"' in client.get("/instances/").content.decode()
    deliver(capture, callbacks, host, host2)
    running.refresh_from_db()
    assert (running.vm_state, running.flavor_name, running.host.name) == (VmState.ACTIVE, "t.tiny", "host1")


def test_a_refused_resize_shows_the_reason_in_the_dialog(world, running, small, capture):
    quotas.set_limits(world["home"], {"cores": 1}, force=True)
    with capture() as callbacks:
        response = browser_for("member").post(f"/instances/{running.pk}/resize/", {"flavor": small.pk})
    assert response.status_code == 200 and callbacks == []
    assert "Quota exceeded for cores" in response.content.decode()


def test_a_reader_gets_no_resize_dialog_and_no_row_operations(world, running):
    reader = browser_for("reader")
    assert reader.get(f"/instances/{running.pk}/resize/").status_code == 403
    assert reader.post(f"/instances/{running.pk}/op/confirm_resize/").status_code == 403
    page = reader.get("/instances/").content.decode()
    assert "Resize Instance" not in page and "Rescue Instance" not in page


def test_rescue_and_unrescue_from_the_dashboard(world, running, host, host2, capture):
    client = browser_for("member")
    page = client.get("/instances/").content.decode()
    assert f"/instances/{running.pk}/rescue/" in page and f"/instances/{running.pk}/rebuild/" in page
    assert "The instance&#x27;s own image" in client.get(f"/instances/{running.pk}/rescue/").content.decode()
    with capture() as callbacks:
        response = client.post(f"/instances/{running.pk}/rescue/", {"image": "", "next": "/instances/"})
    assert response.status_code == 302
    deliver(capture, callbacks, host, host2)
    page = client.get("/instances/").content.decode()
    assert 'data-status="RESCUE"' in page and f"/instances/{running.pk}/op/unrescue/" in page
    with capture() as callbacks:
        client.post(f"/instances/{running.pk}/op/unrescue/")
    deliver(capture, callbacks, host, host2)
    running.refresh_from_db()
    assert running.vm_state == VmState.ACTIVE


def test_rebuild_from_the_dashboard(world, running, image, host, host2, capture):
    client = browser_for("member")
    with capture() as callbacks:
        response = client.post(f"/instances/{running.pk}/rebuild/", {"image": str(image.pk)})
    assert response.status_code == 302
    assert deliver(capture, callbacks, host, host2) == ["instances.rebuild"]
    assert InstanceAction.objects.filter(instance=running, action="rebuild", result="Success").exists()


def test_the_detail_page_offers_the_same_operations(world, running):
    page = browser_for("member").get(f"/instances/{running.pk}/").content.decode()
    assert f"/instances/{running.pk}/resize/" in page and f"/instances/{running.pk}/rescue/" in page
    assert f"/instances/{running.pk}/op/confirm_resize/" not in page


def test_an_admin_live_migrates_an_instance_to_the_host_chosen_in_the_dialog(
    world, running, host, host2, capture
):
    admin = browser_for("admin")
    page = admin.get("/admin/instances/").content.decode()
    assert f"/instances/{running.pk}/live-migrate/" in page and "Live Migrate Instance" in page
    dialog = admin.get(f"/instances/{running.pk}/live-migrate/").content.decode()
    assert 'value="host2"' in dialog and 'value="host1"' not in dialog  # never the host it is on
    assert "Automatically schedule a new host" in dialog

    with capture() as callbacks:
        response = admin.post(
            f"/instances/{running.pk}/live-migrate/", {"host": "host2", "next": "/admin/instances/"}
        )
    assert response.status_code == 302 and response["Location"] == "/admin/instances/"
    assert 'data-status="MIGRATING"' in admin.get("/admin/instances/").content.decode()
    deliver(capture, callbacks, host, host2)
    running.refresh_from_db()
    assert (running.vm_state, running.host.name) == (VmState.ACTIVE, "host2")
    assert InstanceAction.objects.filter(instance=running, action="live-migration", result="Success").exists()


def test_a_refused_live_migration_shows_the_reason_and_members_get_no_dialog(world, running, host2, capture):
    ComputeHost.objects.filter(name="host2").update(memory_mb_used=4096)
    with capture() as callbacks:
        response = browser_for("admin").post(f"/instances/{running.pk}/live-migrate/", {"host": "host2"})
    assert response.status_code == 200 and callbacks == []
    assert "No valid host" in response.content.decode()
    member = browser_for("member")
    assert member.get(f"/instances/{running.pk}/live-migrate/").status_code == 403
    assert "Live Migrate" not in member.get("/instances/").content.decode()


def test_the_hypervisors_panel_leads_to_a_hosts_instances_with_their_live_migrate_action(
    world, running, host2
):
    admin = browser_for("admin")
    panel = admin.get("/admin/hypervisors/").content.decode()
    assert 'href="/admin/instances/?host=host1"' in panel and 'href="/admin/instances/?host=host2"' in panel
    on_host1 = admin.get("/admin/instances/?host=host1").content.decode()
    assert f"/instances/{running.pk}/live-migrate/" in on_host1
    on_host2 = admin.get("/admin/instances/?host=host2").content.decode()
    assert str(running.pk) not in on_host2
