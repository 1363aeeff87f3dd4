"""The Project → Volumes panel: the table with its actions, create, attach/detach, delete with a
confirm page, polling rows, and a query count that does not grow with the rows."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.models import Project
from instances.choices import VolumeStatus
from instances.models import Volume
from instances.services import volumes
from tests.factories import make_user
from tests.instances.api.test_volumes import server
from tests.instances.volume_support import Run


@pytest.fixture
def member(client, world, vol_dir):

    home = Project.objects.get(pk=world["home"].pk)
    user = make_user("vera", roles={home: "member"}, password="pw-vera-123")
    client.force_login(user)
    return client


@pytest.fixture
def vol_dir(settings, tmp_path):
    settings.VOLUMES_DIR = tmp_path / "volumes"
    return settings.VOLUMES_DIR


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_create_attach_detach_and_delete_through_the_panel(member, world, capture, host, image, tiny):
    page = member.get("/volumes/")
    assert page.status_code == 200 and b"Create Volume" in page.content
    assert not re.search(rb"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=", page.content)
    with capture() as callbacks:
        response = member.post("/volumes/create/", {"name": "panel", "size": 1, "source": ""})
    assert response.status_code == 302
    volume = Volume.objects.get(name="panel")
    polling = member.get("/volumes/").content.decode()
    assert (
        f'hx-get="/volumes/{volume.pk}/row/?delay=4"' in polling and 'hx-trigger="load delay:2s"' in polling
    )
    Run(capture, host)(callbacks)
    row = member.get(f"/volumes/{volume.pk}/row/?delay=30").content.decode()
    assert "hx-get" not in row and "Available" in row and "Launch as Instance" not in row

    server_id = server(world, host, image, tiny, capture)
    with capture() as callbacks:
        member.post(f"/volumes/{volume.pk}/attachments/", {"instance": server_id})
    Run(capture, host)(callbacks)
    assert Volume.objects.get(pk=volume.pk).status == VolumeStatus.IN_USE
    assert re.search(
        r"/dev/vdc on <a href=\"/instances/[0-9a-f-]+/\">vm1</a>", member.get("/volumes/").content.decode()
    )
    with capture() as callbacks:
        member.post(f"/volumes/{volume.pk}/attachments/")
    Run(capture, host)(callbacks)
    assert Volume.objects.get(pk=volume.pk).status == VolumeStatus.AVAILABLE

    confirm = member.get(f"/volumes/{volume.pk}/delete/")
    assert b"This cannot be undone" in confirm.content
    with capture() as callbacks:
        member.post(f"/volumes/{volume.pk}/delete/")
    Run(capture, host)(callbacks)
    assert Volume.objects.get(pk=volume.pk).deleted


def test_the_panel_lists_many_volumes_with_the_same_number_of_queries(member, world, capture, host):

    class Ctx:
        project_id = world["home"].pk
        user = None

    volumes.create_volume(Ctx, size=1, name="first", populate=False)
    member.get("/volumes/")  # the first page of a session also loads the session and the user
    with CaptureQueriesContext(connection) as few:
        member.get("/volumes/")
    for index in range(6):
        volumes.create_volume(Ctx, size=1, name=f"more{index}", populate=False)
    with CaptureQueriesContext(connection) as many:
        page = member.get("/volumes/")
    assert page.content.count(b"data-volume=") == 7
    assert len(many) == len(few)


def test_a_reader_sees_the_table_without_actions(client, world, vol_dir):

    home = Project.objects.get(pk=world["home"].pk)
    client.force_login(make_user("rhea", roles={home: "reader"}, password="pw-rhea-123"))
    page = client.get("/volumes/")
    assert page.status_code == 200 and b"Create Volume" not in page.content
    assert client.get("/volumes/create/").status_code == 403
