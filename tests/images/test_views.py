"""The Images panel through the real URLs: the list and its scopes, filters and query count, the
Create Image form's checks, and every action refused by the server when policy says no."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard import bulk
from dashboard.models import BulkJob
from images.choices import ImageStatus, Visibility
from images.models import Image, ImageMember
from tests.factories import PASSWORD, make_project, make_user

pytestmark = pytest.mark.django_db


def login(client, user) -> None:
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


@pytest.fixture
def home():
    return make_project("home")


@pytest.fixture
def member(client, home):
    user = make_user("mia", roles={home: "member"})
    login(client, user)
    return user


def image(owner, name="img", **fields) -> Image:
    fields.setdefault("disk_format", "qcow2")
    fields.setdefault("container_format", "bare")
    if fields.get("status") in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED):
        fields.setdefault("size", 1)
    return Image.objects.create(owner=owner.id if owner else None, name=name, **fields)


def create_data(**fields) -> dict:
    data = {
        "name": "cirros",
        "description": "",
        "source": "file",
        "image_file": "cirros.qcow2",
        "image_size": "1024",
        "location": "",
        "disk_format": "qcow2",
        "architecture": "x86_64",
        "min_disk": "1",
        "min_ram": "0",
        "visibility": "private",
        "properties": "",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


# --- the list -----------------------------------------------------------------------------------


def test_the_panel_shows_the_projects_images_with_the_seed_columns(client, member, home):
    image(home, "ubuntu", size=2048, status=ImageStatus.ACTIVE, protected=True)
    image(make_project(), "someone-elses")
    page = client.get(reverse("images")).content.decode()
    for column in ("Name", "Type", "Status", "Visibility", "Protected", "Format", "Size", "Owner", "Server"):
        assert f">{column}<" in page or f">{column} <" in page
    assert 'data-image="ubuntu"' in page and "someone-elses" not in page
    assert "Create Image" in page and "Delete Images" in page


def test_scopes_show_shared_public_and_community_images(client, member, home):
    other = make_project("other")
    shared = image(other, "shared-one", visibility=Visibility.SHARED)
    ImageMember.objects.create(image=shared, member=home.id)
    image(other, "public-one", visibility=Visibility.PUBLIC)
    image(other, "community-one", visibility=Visibility.COMMUNITY)
    image(other, "private-one", visibility=Visibility.PRIVATE)

    def names(scope):
        page = client.get(reverse("images"), {"scope": scope}).content.decode()
        return {
            n
            for n in ("shared-one", "public-one", "community-one", "private-one")
            if f'data-image="{n}"' in page
        }

    assert names("shared") == {"shared-one"}
    assert names("public") == {"public-one"}
    assert names("community") == {"community-one"}
    assert names("project") == set()
    page = client.get(reverse("images"), {"scope": "shared"}).content.decode()
    assert "Accept" in page and 'data-testid="member-status">pending' in page


def test_filters_and_sorting_stay_in_the_url(client, member, home):
    image(home, "alpha", status=ImageStatus.ACTIVE, size=1)
    image(home, "beta", status=ImageStatus.QUEUED)
    image(
        home,
        "gamma-snap",
        status=ImageStatus.ACTIVE,
        properties={"image_type": "snapshot", "instance_uuid": "abc"},
    )
    page = client.get(reverse("images"), {"status": "active", "sort": "name"}).content.decode()
    assert page.index('data-image="alpha"') < page.index('data-image="gamma-snap"')
    assert 'data-image="beta"' not in page
    assert "status=active" in page  # the sort links keep the filter
    snaps = client.get(reverse("images"), {"type": "snapshot"}).content.decode()
    assert 'data-image="gamma-snap"' in snaps and 'data-image="alpha"' not in snaps
    assert 'href="/instances/abc/"' in snaps


def test_ten_thousand_images_cost_a_constant_number_of_queries(client, member, home):
    other = make_project("other")
    image(home, "first")

    def measure():
        with CaptureQueriesContext(connection) as captured:
            started = time.monotonic()
            response = client.get(reverse("images"), {"scope": "project", "sort": "name", "page": "3"})
            elapsed = time.monotonic() - started
        assert response.status_code == 200
        return len(captured.captured_queries), elapsed, response.content.decode()

    measure()  # the first page of a session also stores the current project in it
    few, _, _ = measure()
    rows = [
        Image(
            owner=home.id if i % 2 else other.id,
            name=f"bulk-{i:05d}",
            status=ImageStatus.ACTIVE,
            size=i,
            disk_format="qcow2",
            container_format="bare",
            visibility=Visibility.SHARED if i % 3 else Visibility.PUBLIC,
        )
        for i in range(10_000)
    ]
    Image.objects.bulk_create(rows, batch_size=1000)
    many, elapsed, page = measure()
    assert many == few, f"{few} queries with 1 image, {many} with 10,000"
    assert many <= 14
    assert page.count('<tr id="image-row-') == 25 and "5001 images" in page
    assert elapsed < 2.0
    print(f"\n10,000 images: {many} queries, page rendered in {elapsed * 1000:.0f} ms")
    admin = make_user("root", roles={make_project("ops"): "admin"})
    client.logout()
    login(client, admin)
    client.get(reverse("admin-images"))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin-images"), {"page": "40"})
    assert response.status_code == 200 and "10001 images" in response.content.decode()
    assert len(captured.captured_queries) <= many + 1


def test_a_transitional_row_polls_with_a_growing_delay_until_it_settles(client, member, home):
    img = image(home, "busy", status=ImageStatus.IMPORTING)
    row = client.get(reverse("image-row", args=[img.pk]), {"delay": "2"}).content.decode()
    assert 'hx-trigger="load delay:3s"' in row and "delay=3" in row
    slow = client.get(reverse("image-row", args=[img.pk]), {"delay": "27"}).content.decode()
    assert 'hx-trigger="load delay:30s"' in slow
    Image.objects.filter(pk=img.pk).update(status=ImageStatus.KILLED, reason="Import failed: bad data.")
    done = client.get(reverse("image-row", args=[img.pk]), {"delay": "3"}).content.decode()
    assert "hx-trigger" not in done and "Import failed: bad data." in done and "Retry" in done


def test_the_detail_page_shows_every_readable_attribute(client, member, home):
    img = image(
        home,
        "detailed",
        status=ImageStatus.ACTIVE,
        size=10,
        checksum="c" * 32,
        os_hash_algo="sha512",
        os_hash_value="h" * 128,
        properties={"os_distro": "ubuntu"},
    )
    page = client.get(reverse("image-detail", args=[img.pk])).content.decode()
    assert "c" * 32 in page and "h" * 128 in page and "os_distro" in page and "ubuntu" in page
    assert client.get(reverse("image-detail", args=[image(make_project()).pk])).status_code == 404


# --- create ---------------------------------------------------------------------------------------


def test_create_answers_with_the_image_api_request_to_make(client, member):
    response = client.post(
        reverse("image-create"),
        create_data(properties="os_distro=cirros\nhw_disk_bus=virtio", protected="on"),
    )
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["source"] == "file"
    assert plan["image"] == {
        "name": "cirros",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "private",
        "protected": True,
        "min_disk": 1,
        "min_ram": 0,
        "architecture": "x86_64",
        "os_distro": "cirros",
        "hw_disk_bus": "virtio",
    }
    assert not Image.objects.exists()  # the browser creates it through the Image API


def test_create_without_file_or_location_is_a_field_error(client, member):
    errors = client.post(reverse("image-create"), create_data(image_file="")).json()["errors"]
    assert errors == {"image_file": ["An image file or an external location must be specified."]}
    errors = client.post(reverse("image-create"), create_data(source="url", location="")).json()["errors"]
    assert errors == {"location": ["An image file or an external location must be specified."]}


def test_create_refuses_unknown_formats_public_visibility_and_reserved_properties(client, member):
    errors = client.post(
        reverse("image-create"),
        create_data(disk_format="qed", visibility="public", properties="os_glance_x=1"),
    ).json()["errors"]
    assert "disk_format" in errors and "visibility" in errors and "properties" in errors


def test_create_refuses_a_url_this_server_will_not_fetch(client, member):
    errors = client.post(
        reverse("image-create"), create_data(source="url", location="http://127.0.0.1/x.img")
    ).json()["errors"]
    assert "will not fetch from that URL" in errors["location"][0]


def test_a_reader_gets_no_create_or_delete_and_the_server_refuses_them(client, home):
    reader = make_user("rita", roles={home: "reader"})
    login(client, reader)
    img = image(home, "theirs", status=ImageStatus.ACTIVE, size=1)
    page = client.get(reverse("images")).content.decode()
    assert 'data-image="theirs"' in page
    assert "Create Image" not in page and "Delete Images" not in page and "Edit Image" not in page
    assert client.post(reverse("image-create"), create_data()).status_code == 403
    assert client.post(reverse("image-delete"), {"id": [img.pk], "confirm": "1"}).status_code == 403
    assert client.post(reverse("image-edit", args=[img.pk]), {"name": "x"}).status_code == 403
    assert Image.objects.get(pk=img.pk).status == ImageStatus.ACTIVE


# --- delete, edit, metadata, members ----------------------------------------------------------------


def test_delete_lists_uses_refuses_protected_and_deletes_the_rest(
    client, member, home, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.IMAGE_STAGING_DIR = tmp_path
    base = image(home, "base", status=ImageStatus.ACTIVE, size=1)
    image(home, "snap", properties={"base_image_ref": str(base.pk), "image_type": "snapshot"})
    locked = image(home, "locked", protected=True)
    foreign = image(make_project(), "foreign", visibility=Visibility.PUBLIC)
    confirm = client.get(reverse("image-delete"), {"id": [base.pk, locked.pk, foreign.pk]}).content.decode()
    assert ">snap</a>" in confirm and "permanent" in confirm
    assert confirm.count('data-testid="refusal"') == 2
    with django_capture_on_commit_callbacks() as sent:
        ids = [base.pk, locked.pk, foreign.pk]
        response = client.post(reverse("image-delete"), {"id": ids, "confirm": "1"})
    # Nothing is deleted in the request: a job is recorded and handed to a worker.
    job = BulkJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("bulk-job", args=[job.pk])
    assert len(sent) == 1 and Image.objects.get(pk=base.pk).status == ImageStatus.ACTIVE
    assert bulk.run_job(str(job.pk)) == "done"
    text = client.get(response.url).content.decode()
    assert "1 done" in text and "2 refused" in text
    assert "Image is protected and cannot be deleted." in text
    assert "Policy doesn&#x27;t allow delete_image" in text  # the foreign image is not the user's
    assert Image.objects.get(pk=base.pk).status == ImageStatus.DELETED
    assert Image.objects.get(pk=locked.pk).status != ImageStatus.DELETED
    assert Image.objects.get(pk=foreign.pk).status != ImageStatus.DELETED


def test_edit_and_metadata_go_through_the_api_rules(client, member, home):
    img = image(home, "old", properties={"os_distro": "x"})
    response = client.post(
        reverse("image-edit", args=[img.pk]),
        {"name": "new", "description": "about", "disk_format": "raw", "architecture": "", "min_disk": "2",
         "min_ram": "128", "visibility": "shared"},
    )  # fmt: skip
    assert response.status_code == 302
    img.refresh_from_db()
    assert (img.name, img.disk_format, img.min_disk, img.visibility) == ("new", "raw", 2, "shared")
    assert img.properties == {"os_distro": "x", "description": "about"}
    refused = client.post(
        reverse("image-edit", args=[img.pk]),
        {"name": "new", "disk_format": "raw", "min_disk": "2", "min_ram": "0", "visibility": "public"},
    )
    assert refused.status_code == 200 and Image.objects.get(pk=img.pk).visibility == "shared"
    response = client.post(
        reverse("image-metadata", args=[img.pk]),
        {"key": ["os_distro", "description", "hw_disk_bus"], "value": ["ubuntu", "about", "virtio"]},
    )
    assert response.status_code == 302
    img.refresh_from_db()
    assert img.properties == {"os_distro": "ubuntu", "description": "about", "hw_disk_bus": "virtio"}


def test_members_are_added_and_the_other_project_accepts(client, member, home):
    other = make_project("other")
    img = image(home, "to-share", visibility=Visibility.SHARED, status=ImageStatus.ACTIVE, size=1)
    response = client.post(reverse("image-members", args=[img.pk]), {"project": "other"})
    assert response.status_code == 302
    assert ImageMember.objects.get(image=img).status == "pending"
    client.logout()
    login(client, make_user("olga", roles={other: "member"}))
    client.post(reverse("image-respond", args=[img.pk]), {"status": "accepted"})
    assert ImageMember.objects.get(image=img).status == "accepted"


def test_deactivate_is_for_the_owners_members_and_admins(client, member, home):
    img = image(home, "act", status=ImageStatus.ACTIVE, size=1, visibility=Visibility.COMMUNITY)
    client.logout()
    login(client, make_user("stranger", roles={make_project(): "member"}))
    client.post(reverse("image-deactivate", args=[img.pk]))
    assert Image.objects.get(pk=img.pk).status == ImageStatus.ACTIVE
    client.logout()
    login(client, member)
    client.post(reverse("image-deactivate", args=[img.pk]))
    assert Image.objects.get(pk=img.pk).status == ImageStatus.DEACTIVATED
    client.post(reverse("image-reactivate", args=[img.pk]))
    assert Image.objects.get(pk=img.pk).status == ImageStatus.ACTIVE


def test_an_active_image_offers_launch_to_members_and_not_to_readers(client, home, member):
    ready = image(member.default_project, "ready", status=ImageStatus.ACTIVE)
    queued = image(member.default_project, "queued", status=ImageStatus.QUEUED)
    launch = reverse("instance-launch")
    page = client.get(reverse("images")).content.decode()
    assert f"{launch}?image={ready.pk}" in page
    assert f"{launch}?image={queued.pk}" not in page
    assert (
        f"{launch}?image={ready.pk}" in client.get(reverse("image-detail", args=[ready.pk])).content.decode()
    )
    reader = make_user("rita", roles={home: "reader"})
    client.logout()
    login(client, reader)
    assert f"{launch}?image={ready.pk}" not in client.get(reverse("images")).content.decode()


def test_update_metadata_offers_the_catalog_and_lists_known_values(client, member, home):
    img = image(home, "hw", properties={"hw_disk_bus": "scsi", "note": "mine"})
    page = client.get(reverse("image-metadata", args=[img.pk])).content.decode()
    assert 'data-testid="metadata-catalog"' in page and "Virtual hardware" in page
    assert 'data-key="hw_firmware_type"' in page and 'data-choices="bios|uefi"' in page
    # A flavor-only namespace is not offered for images, and images see the hw_ prefix.
    assert 'data-key="hw:cpu_sockets"' not in page and 'data-key="hw_cpu_sockets"' in page
    assert '<option value="scsi" selected>scsi</option>' in page
    assert 'name="value" value="mine" aria-label="Value of note"' in page
    response = client.post(
        reverse("image-metadata", args=[img.pk]), {"key": ["hw_disk_bus", "note"], "value": ["sata", "mine"]}
    )
    assert response.status_code == 302
    img.refresh_from_db()
    assert img.properties == {"hw_disk_bus": "sata", "note": "mine"}
