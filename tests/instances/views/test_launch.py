"""Launch Instance through the real URLs: flavors that cannot work say why, the quota and what
the launch will use are shown before submitting, and the service's refusals become messages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from flavors import services
from instances.models import ComputeHost, Instance
from instances.services import hosts, quotas
from tests.instances.conftest import make_host, upload_image
from tests.instances.dashboard_support import browser_for, launch_form, launch_in_dashboard


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def reason_of(page: str, flavor: str) -> str:
    row = page.split(f'data-flavor="{flavor}"')[1].split("</tr>")[0]
    return row.split('data-testid="reason">')[1]


def test_the_page_opened_from_an_image_row_has_the_image_chosen(world, host, image, tiny):
    page = browser_for("member").get(f"/instances/launch/?image={image.pk}").content.decode()
    assert f'value="{image.pk}" checked' in page
    assert "t.tiny" in page and "Quota of home" in page


def test_flavors_below_the_image_minimums_are_disabled_with_the_reason(world, host, stores_dir, marker_bytes):
    needy = upload_image(world["home"].pk, marker_bytes, name="needy", min_ram=256, min_disk=2)
    services.create_flavor(name="t.small", vcpus=1, ram=128, disk=1)
    services.create_flavor(name="t.fits", vcpus=1, ram=256, disk=2)
    page = browser_for("member").get(f"/instances/launch/?image={needy.pk}").content.decode()
    small = reason_of(page, "t.small")
    assert "needs at least 256 MB of RAM" in small and "at least 2 GB of root disk" in small
    assert "Yes" in reason_of(page, "t.fits")
    row = page.split('data-flavor="t.small"')[1].split("</tr>")[0]
    assert "disabled" in row


def test_flavors_larger_than_any_host_are_disabled(world, host, image):
    services.create_flavor(name="t.huge", vcpus=1, ram=8192, disk=1)
    page = browser_for("member").get(f"/instances/launch/?image={image.pk}").content.decode()
    assert "Larger than any enabled compute host can take now." in reason_of(page, "t.huge")
    ComputeHost.objects.update(enabled=False)
    page = browser_for("member").get(f"/instances/launch/?image={image.pk}").content.decode()
    assert "No enabled compute host is up." in reason_of(page, "t.huge")


def test_the_zones_offered_are_those_with_an_enabled_host_that_is_up(
    world, host, image, tiny, tmp_path, capture
):
    make_host(tmp_path, "lab1", "lab")
    make_host(tmp_path, "off1", "off")
    make_host(tmp_path, "gone1", "gone")
    hosts.set_enabled(ComputeHost.objects.get(name="off1"), False, "maintenance")
    ComputeHost.objects.filter(name="gone1").update(last_heartbeat=timezone.now() - timedelta(hours=1))
    client = browser_for("member")
    page = client.get(f"/instances/launch/?image={image.pk}").content.decode()
    select = page.split('name="availability_zone"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "lab", "nova"]

    (made,) = launch_in_dashboard(client, host, image, tiny, capture, availability_zone="nova")
    assert Instance.objects.get(pk=made.pk).availability_zone == "nova"
    refused = client.post("/instances/launch/", launch_form(image, tiny, availability_zone="off"))
    assert "Select a valid choice. off is not one of the available choices." in refused.content.decode()


def test_the_quota_and_what_the_launch_will_use_are_shown(world, host, image, tiny):
    page = (
        browser_for("member")
        .get(f"/instances/launch/?image={image.pk}&flavor={tiny.pk}&count=3")
        .content.decode()
    )
    will_use = page.split('data-testid="will-use">')[1].split("</p>")[0]
    assert "3 × t.tiny" in will_use and "3 vCPU" in will_use and "384 MB RAM" in will_use
    assert "6 GB" in will_use  # (1 root + 1 ephemeral) × 3
    assert '0 + <span class="text-primary">3</span> of 10' in page


def test_over_quota_the_form_says_so_and_disables_the_flavors(world, host, image, tiny):
    quotas.set_limits(world["home"], {"instances": 0})
    page = browser_for("member").get(f"/instances/launch/?image={image.pk}").content.decode()
    assert 'data-testid="quota-warning"' in page and "Quota exceeded" in page
    assert "Over your quota of Instances: needs 1, 0 left." in reason_of(page, "t.tiny")


def test_the_server_refuses_a_launch_over_quota_with_a_message(world, host, image, tiny, capture):
    quotas.set_limits(world["home"], {"cores": 1})
    client = browser_for("member")
    with capture() as callbacks:
        response = client.post("/instances/launch/", launch_form(image, tiny, count=2))
    page = response.content.decode()
    assert response.status_code == 200 and callbacks == []
    assert "Could not launch web: Quota exceeded for cores" in page
    assert not Instance.objects.exists()


def test_no_valid_host_is_reported_as_a_message(world, host, image, tiny, capture):
    ComputeHost.objects.update(enabled=False)
    response = browser_for("member").post("/instances/launch/", launch_form(image, tiny), follow=True)
    assert "web could not be scheduled: No valid host was found." in response.content.decode()
    assert Instance.objects.get().vm_state == "error"


def test_a_launch_of_three_makes_three_active_instances(world, host, image, tiny, capture):
    made = launch_in_dashboard(browser_for("member"), host, image, tiny, capture, name="app", count=3)
    assert [i.name for i in made] == ["app-1", "app-2", "app-3"]
    assert {Instance.objects.get(pk=i.pk).status for i in made} == {"ACTIVE"}


def test_snapshots_are_offered_under_instance_snapshot(world, host, image, stores_dir, marker_bytes):
    snap = upload_image(world["home"].pk, marker_bytes, name="snap1", properties={"image_type": "snapshot"})
    client = browser_for("member")
    images_page = client.get("/instances/launch/").content.decode()
    assert 'data-source="snap1"' not in images_page and f'data-source="{image.name}"' in images_page
    snaps = client.get("/instances/launch/?source_type=snapshot").content.decode()
    assert 'data-source="snap1"' in snaps
    chosen = client.get(f"/instances/launch/?image={snap.pk}").content.decode()
    assert 'id="source-snapshot" value="snapshot" checked' in chosen


def test_readers_cannot_open_the_launch_page(world, host):
    assert browser_for("reader").get("/instances/launch/").status_code == 403
