"""Nova's createBackup: a snapshot marked as a backup of a type, and the rotation that keeps the
newest N backups of that type of the server."""

from __future__ import annotations

import pytest

from images.models import Image
from instances.models import Instance
from tests.instances.api.test_server_resize_rebuild_rescue import act, launch, show


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def backup(world, capture, host, server_id, name, rotation=2, backup_type="daily", version="2.96"):
    body = {"createBackup": {"name": name, "backup_type": backup_type, "rotation": rotation}}
    return act(world, capture, server_id, body, host, version=version)


def test_backups_are_rotated_per_type_keeping_the_newest(world, host, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host)
    made = []
    for name in ("b1", "b2", "b3"):
        response, ran = backup(world, capture, host, server_id, name)
        assert response.status_code == 202 and ran == ["instances.backup"]
        made.append(response.json()["image_id"])
        assert show(world, server_id)["status"] == "ACTIVE"
    weekly, _ = backup(world, capture, host, server_id, "w1", rotation=1, backup_type="weekly")
    kept = Image.objects.alive().filter(properties__image_type="backup").order_by("created_at")
    assert [i.name for i in kept] == ["b2", "b3", "w1"]
    assert all(i.status == "active" for i in kept)
    newest = kept.get(name="b3")
    assert (newest.properties["backup_type"], newest.properties["instance_uuid"]) == ("daily", server_id)
    assert Image.objects.get(pk=made[0]).status == "deleted"
    actions = world["member"].get(f"/servers/{server_id}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in actions].count("createBackup") == 4


def test_the_answer_follows_the_microversion_and_rotation_zero_keeps_nothing(
    world, host, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host)
    old, _ = backup(world, capture, host, server_id, "old", version="2.44")
    assert old.status_code == 202 and old.content == b""
    assert old["Location"].endswith(f"/images/{Image.objects.get(name='old').pk}")
    zero, _ = backup(world, capture, host, server_id, "gone", rotation=0)
    assert zero.status_code == 202 and zero.json() == {}
    assert not Image.objects.alive().filter(properties__image_type="backup").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "b", "backup_type": "daily"},
        {"name": "b", "backup_type": "daily", "rotation": -1},
        {"name": "", "backup_type": "daily", "rotation": 1},
        {"name": "b", "backup_type": "daily", "rotation": 1, "colour": "red"},
    ],
)
def test_a_bad_backup_request_is_a_400_and_makes_no_image(world, host, image, tiny, capture, body):
    server_id = launch(world, capture, image, tiny, host)
    before = Image.objects.count()
    response = world["member"].post(f"/servers/{server_id}/action", {"createBackup": body}, "2.96")
    assert response.status_code == 400, response.content
    assert Image.objects.count() == before
    assert Instance.objects.get(pk=server_id).task_state == ""
    assert (
        world["reader"]
        .post(
            f"/servers/{server_id}/action", {"createBackup": {"name": "b", "backup_type": "d", "rotation": 1}}
        )
        .status_code
        == 403
    )


def test_security_group_actions_say_why_a_server_stays_in_the_default_group(
    world, host, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host)

    def post(action, group):
        return world["member"].post(f"/servers/{server_id}/action", {action: {"name": group}}, "2.96")

    assert post("addSecurityGroup", "web").status_code == 404
    assert post("removeSecurityGroup", "web").status_code == 404
    assert post("addSecurityGroup", "default").status_code == 400
    refused = post("removeSecurityGroup", "default")
    assert refused.status_code == 409 and "no other security groups" in refused.content.decode()
    assert world["member"].post(f"/servers/{server_id}/action", {"addSecurityGroup": {}}).status_code == 400
    assert show(world, server_id)["security_groups"] == [{"name": "default"}]
