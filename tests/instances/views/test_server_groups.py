"""The Project → Server Groups panel, the Server Group choice of Launch Instance, and Shelve /
Unshelve in the Instances panel's row menu, through the real URLs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.models import Instance, ServerGroup
from tests.instances.conftest import Deliver
from tests.instances.dashboard_support import browser_for, launch_in_dashboard


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_a_member_creates_a_group_sees_its_members_and_deletes_it(world, host, image, tiny, capture):
    client = browser_for("member")
    page = client.get("/server-groups/").content.decode()
    assert "No server groups yet." in page and "Create Server Group" in page
    assert 'href="/server-groups/"' in page  # in the navigation

    response = client.post(
        "/server-groups/create/", {"name": "web", "policy": "anti-affinity", "max_server_per_host": "2"}
    )
    assert response.status_code == 302
    group = ServerGroup.objects.get()
    assert (group.name, group.policy, group.rules, group.project) == (
        "web",
        "anti-affinity",
        {"max_server_per_host": 2},
        world["home"],
    )

    form = client.get("/instances/launch/").content.decode()
    assert f'<option value="{group.pk}">web (Anti-affinity)</option>' in form
    (instance,) = launch_in_dashboard(client, host, image, tiny, capture, server_group=str(group.pk))
    assert instance.status == "ACTIVE"
    assert instance.server_group_membership.group == group

    page = client.get("/server-groups/").content.decode()
    assert f'data-member="{instance.pk}"' in page and "2 per host" in page

    assert "Delete Server Group" in client.get(f"/server-groups/{group.pk}/delete/").content.decode()
    assert client.post(f"/server-groups/{group.pk}/delete/").status_code == 302
    assert not ServerGroup.objects.exists()
    assert Instance.objects.get(pk=instance.pk).status == "ACTIVE"


def test_a_rule_on_a_policy_without_rules_is_refused_on_the_form(world, db):
    client = browser_for("member")
    response = client.post(
        "/server-groups/create/", {"name": "g", "policy": "affinity", "max_server_per_host": "2"}
    )
    assert response.status_code == 200
    assert "Only anti-affinity groups" in response.content.decode()
    assert not ServerGroup.objects.exists()


def test_readers_see_the_panel_but_cannot_create_or_delete_and_outsiders_see_nothing(world, db):
    group = ServerGroup.objects.create(name="g", project=world["home"], policy="affinity")
    reader = browser_for("reader")
    page = reader.get("/server-groups/").content.decode()
    assert f'data-server-group="{group.pk}"' in page and "Create Server Group" not in page
    assert reader.get("/server-groups/create/").status_code == 403
    assert reader.post(f"/server-groups/{group.pk}/delete/").status_code == 403
    outsider = browser_for("outsider")
    assert f'data-server-group="{group.pk}"' not in outsider.get("/server-groups/").content.decode()
    assert outsider.post(f"/server-groups/{group.pk}/delete/").status_code == 404
    assert ServerGroup.objects.exists()


def test_the_panel_costs_the_same_queries_for_many_groups(world, host, image, tiny, capture):
    client = browser_for("member")
    group = ServerGroup.objects.create(name="g0", project=world["home"], policy="soft-affinity")
    launch_in_dashboard(client, host, image, tiny, capture, server_group=str(group.pk))
    with CaptureQueriesContext(connection) as few:
        client.get("/server-groups/")
    for i in range(1, 6):
        more = ServerGroup.objects.create(name=f"g{i}", project=world["home"], policy="soft-affinity")
        launch_in_dashboard(client, host, image, tiny, capture, name=f"w{i}", server_group=str(more.pk))
    with CaptureQueriesContext(connection) as many:
        page = client.get("/server-groups/").content.decode()
    assert page.count("data-member=") == 6
    assert len(many) == len(few)


def test_anti_affinity_chosen_in_launch_reports_no_valid_host_for_the_second(
    world, host, image, tiny, capture
):
    client = browser_for("member")
    group = ServerGroup.objects.create(name="apart", project=world["home"], policy="anti-affinity")
    (first,) = launch_in_dashboard(client, host, image, tiny, capture, server_group=str(group.pk))
    assert first.status == "ACTIVE"
    with capture():
        response = client.post(
            "/instances/launch/",
            {
                "name": "second",
                "description": "",
                "availability_zone": "",
                "count": "1",
                "source_type": "image",
                "image": str(image.pk),
                "flavor": tiny.pk,
                "server_group": str(group.pk),
            },
            follow=True,
        )
    assert "could not be scheduled: No valid host was found" in response.content.decode()


def test_shelve_and_unshelve_from_the_row_menu(world, host, image, tiny, capture, tmp_path):
    client = browser_for("member")
    (instance,) = launch_in_dashboard(client, host, image, tiny, capture)
    page = client.get("/instances/").content.decode()
    assert f"/instances/{instance.pk}/action/shelve/" in page
    assert f"/instances/{instance.pk}/action/unshelve/" not in page
    assert f"/instances/{instance.pk}/action/shelveOffload/" not in page  # admins only

    with capture() as callbacks:
        response = client.post(f"/instances/{instance.pk}/action/shelve/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Shelving" in response.content.decode()
    Deliver(host)(callbacks)
    instance.refresh_from_db()
    assert instance.status == "SHELVED_OFFLOADED" and instance.host is None

    page = client.get("/instances/").content.decode()
    assert f"/instances/{instance.pk}/action/unshelve/" in page
    assert f"/instances/{instance.pk}/action/start/" not in page
    with capture() as callbacks:
        client.post(f"/instances/{instance.pk}/action/unshelve/")
    Deliver(host)(callbacks)
    instance.refresh_from_db()
    assert instance.status == "ACTIVE" and instance.host.name == "host1"
    assert browser_for("reader").post(f"/instances/{instance.pk}/action/shelve/").status_code == 403
