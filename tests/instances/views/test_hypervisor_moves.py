"""Admin → Hypervisors: Migrate Host (disable, cold migrate every instance), Evacuate Host (a host
that is down) and Remove Host (an empty one); the Instances panel's Migrate row action."""

from __future__ import annotations

import pytest

from instances.models import ComputeHost, Instance
from instances.services import hosts as host_services
from tests.instances.conftest import Deliver, make_host
from tests.instances.dashboard_support import browser_for, launch_in_dashboard


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def host2(host, tmp_path):
    return make_host(tmp_path, "host2")


def host_card(page: str, name: str) -> str:
    return page.split(f'data-host="{name}"')[1].split('data-host="')[0]


def test_migrate_host_disables_it_and_moves_its_instances_to_verify_resize(
    world, host, host2, image, tiny, capture
):
    ComputeHost.objects.filter(name="host2").update(enabled=False)  # the launch goes to host1
    launch_in_dashboard(browser_for("member"), host, image, tiny, capture)
    ComputeHost.objects.filter(name="host2").update(enabled=True)
    admin = browser_for("admin")
    host1 = ComputeHost.objects.get(name="host1")
    assert 'data-testid="migrate-host"' in host_card(
        admin.get("/admin/hypervisors/").content.decode(), "host1"
    )
    # The panel's button leads to a confirmation; nothing moves until it is confirmed.
    with capture() as callbacks:
        page = admin.get(f"/admin/hypervisors/{host1.pk}/migrate/")
    assert page.status_code == 200 and "Migrate Host host1" in page.content.decode()
    assert list(callbacks) == [] and ComputeHost.objects.get(name="host1").enabled
    with capture() as callbacks:
        response = admin.post(f"/admin/hypervisors/{host1.pk}/migrate/")
    assert response.status_code == 302
    assert Deliver(host, host2)(callbacks) == ["instances.resize"]  # host1 set the disks aside
    host1.refresh_from_db()
    assert not host1.enabled and host1.disabled_reason
    (instance,) = Instance.objects.select_related("host")
    assert (instance.host.name, instance.task_state) == ("host2", "resize_migrated")


def test_evacuate_host_is_offered_only_when_the_host_is_down_and_remove_only_when_it_is_empty(
    world, host, host2, image, tiny, capture
):
    ComputeHost.objects.filter(name="host2").update(enabled=False)
    launch_in_dashboard(browser_for("member"), host, image, tiny, capture)
    ComputeHost.objects.filter(name="host2").update(enabled=True)
    admin = browser_for("admin")
    host1 = ComputeHost.objects.get(name="host1")
    card = host_card(admin.get("/admin/hypervisors/").content.decode(), "host1")
    assert 'data-testid="evacuate-host"' not in card and 'data-testid="remove-host"' not in card
    response = admin.post(f"/admin/hypervisors/{host1.pk}/remove/", follow=True)
    assert "hosting instances" in response.content.decode()
    assert ComputeHost.objects.filter(name="host1").exists()

    host_services.set_forced_down(host1, True)
    card = host_card(admin.get("/admin/hypervisors/").content.decode(), "host1")
    assert 'data-testid="evacuate-host"' in card
    with capture() as callbacks:
        page = admin.get(f"/admin/hypervisors/{host1.pk}/evacuate/")
    assert page.status_code == 200 and "is lost" in page.content.decode()
    assert list(callbacks) == [] and Instance.objects.get().host.name == "host1"
    with capture() as callbacks:
        admin.post(f"/admin/hypervisors/{host1.pk}/evacuate/")
    assert Deliver(host, host2)(callbacks) == ["instances.evacuate"]
    (instance,) = Instance.objects.select_related("host")
    assert (instance.host.name, instance.vm_state, instance.task_state) == ("host2", "active", "")

    card = host_card(admin.get("/admin/hypervisors/").content.decode(), "host1")
    assert 'data-testid="remove-host"' in card
    assert (
        "Stop its compute agent first" in admin.get(f"/admin/hypervisors/{host1.pk}/remove/").content.decode()
    )
    assert ComputeHost.objects.filter(name="host1").exists()
    admin.post(f"/admin/hypervisors/{host1.pk}/remove/")
    assert not ComputeHost.objects.filter(name="host1").exists()


def test_the_migrate_row_action_is_for_admins(world, host, host2, image, tiny, capture):
    launch_in_dashboard(browser_for("member"), host, image, tiny, capture)
    (instance,) = Instance.objects.all()
    member = browser_for("member")
    assert "Migrate Instance" not in member.get("/instances/").content.decode()
    assert member.post(f"/instances/{instance.pk}/op/migrate/").status_code == 403
    admin = browser_for("admin")
    assert "Migrate Instance" in admin.get("/admin/instances/").content.decode()
    source = instance.host.name
    with capture() as callbacks:
        admin.post(f"/instances/{instance.pk}/op/migrate/", {"next": "/admin/instances/"})
    Deliver(host, host2)(callbacks)
    instance.refresh_from_db()
    assert instance.resize_source.name == source and instance.task_state == "resize_migrated"
