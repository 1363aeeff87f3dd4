"""The parts of Cinder's volume API that its own API tests (Tempest) check: metadata items, image
metadata actions, sorted and paged lists with filters, the whole quota set, and clean 404s for
snapshots, backups and volume types that do not exist here."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from dashboard.models import QuotaLimit
from instances.models import Volume
from tests.instances.api.test_volumes import create, server
from tests.instances.volume_support import Run, VolumeCaller


@pytest.fixture
def cinder(world, settings, tmp_path):
    settings.VOLUMES_DIR = tmp_path / "volumes"
    return {name: VolumeCaller(world[name]) for name in ("member", "reader", "outsider", "admin")}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_volume_metadata_is_created_merged_replaced_and_deleted_item_by_item(cinder, capture, host):
    volume = create(cinder, capture, host)["id"]
    member, reader = cinder["member"], cinder["reader"]
    response = member.post(f"/volumes/{volume}/metadata", {"metadata": {"k1": "v1", "k2": "<v&2>"}})
    assert response.status_code == 200 and response.json()["metadata"] == {"k1": "v1", "k2": "<v&2>"}
    merged = member.post(f"/volumes/{volume}/metadata", {"metadata": {"k3": "v3"}}).json()["metadata"]
    assert merged == {"k1": "v1", "k2": "<v&2>", "k3": "v3"}
    replaced = member.put(f"/volumes/{volume}/metadata", {"metadata": {"k4": "v4", "k1": "new"}})
    assert replaced.json()["metadata"] == {"k4": "v4", "k1": "new"}
    assert Volume.objects.get(pk=volume).metadata == {"k4": "v4", "k1": "new"}
    item = member.put(f"/volumes/{volume}/metadata/k4", {"meta": {"k4": "changed"}})
    assert item.status_code == 200 and item.json() == {"meta": {"k4": "changed"}}
    assert reader.get(f"/volumes/{volume}/metadata/k4").json() == {"meta": {"k4": "changed"}}
    assert member.put(f"/volumes/{volume}/metadata/k4", {"meta": {"other": "x"}}).status_code == 400
    assert member.put(f"/volumes/{volume}/metadata/k4", {"meta": {"k4": "a", "b": "c"}}).status_code == 400
    assert reader.put(f"/volumes/{volume}/metadata/k4", {"meta": {"k4": "r"}}).status_code == 403
    assert member.delete(f"/volumes/{volume}/metadata/k1").status_code == 200
    assert member.delete(f"/volumes/{volume}/metadata/k1").status_code == 404
    assert reader.get(f"/volumes/{volume}/metadata").json() == {"metadata": {"k4": "changed"}}
    assert member.post(f"/volumes/{volume}/metadata", {"metadata": {"k": 1}}).status_code == 400
    assert Volume.objects.get(pk=volume).metadata == {"k4": "changed"}
    assert cinder["outsider"].get(f"/volumes/{volume}/metadata").status_code == 404


def test_image_metadata_actions_set_show_and_unset_keys(cinder, capture, host):
    volume = create(cinder, capture, host)["id"]
    member = cinder["member"]
    response = member.post(
        f"/volumes/{volume}/action",
        {"os-set_image_metadata": {"metadata": {"image_name": "img", "ramdisk_id": "rd"}}},
    )
    assert response.status_code == 200
    assert response.json()["metadata"] == {"image_name": "img", "ramdisk_id": "rd"}
    assert member.get(f"/volumes/{volume}").json()["volume"]["volume_image_metadata"]["ramdisk_id"] == "rd"
    unset = member.post(f"/volumes/{volume}/action", {"os-unset_image_metadata": {"key": "ramdisk_id"}})
    assert unset.status_code == 200
    missing = member.post(f"/volumes/{volume}/action", {"os-unset_image_metadata": {"key": "ramdisk_id"}})
    assert missing.status_code == 404
    shown = cinder["reader"].post(f"/volumes/{volume}/action", {"os-show_image_metadata": None})
    assert shown.json() == {"metadata": {"image_name": "img"}}
    refused = cinder["reader"].post(
        f"/volumes/{volume}/action", {"os-set_image_metadata": {"metadata": {"a": "b"}}}
    )
    assert refused.status_code == 403
    assert Volume.objects.get(pk=volume).volume_image_metadata == {"image_name": "img"}


def test_lists_sort_filter_and_page_with_a_next_link(cinder, capture, host):
    ids = [
        create(cinder, capture, host, name=f"v{n}", metadata={"Type": "work" if n else "play"})["id"]
        for n in range(3)
    ]
    member = cinder["member"]
    by_id = member.get("/volumes/detail?sort=id:asc").json()["volumes"]
    assert [v["id"] for v in by_id] == sorted(ids)
    desc = member.get("/volumes/detail?sort_key=id&sort_dir=desc&limit=2&status=available").json()
    assert [v["id"] for v in desc["volumes"]] == sorted(ids, reverse=True)[:2]
    marker = sorted(ids)[0]
    after = member.get(f"/volumes/detail?marker={marker}&sort=id:asc").json()["volumes"]
    assert [v["id"] for v in after] == sorted(ids)[1:]
    work = member.get("/volumes/detail?metadata={'Type': 'work'}").json()["volumes"]
    assert sorted(v["id"] for v in work) == sorted(ids[1:])
    assert member.get("/volumes?availability_zone=elsewhere").json()["volumes"] == []
    assert len(member.get("/volumes?availability_zone=nova").json()["volumes"]) == 3
    seen, path = [], "/volumes?limit=1"
    while True:
        body = member.get(path).json()
        seen += [v["id"] for v in body["volumes"]]
        links = [link["href"] for link in body.get("volumes_links", []) if link["rel"] == "next"]
        if not links:
            break
        link = urlparse(links[0])
        assert link.path.endswith("/volumes") and parse_qs(link.query)["limit"] == ["1"]
        path = f"/volumes?{link.query}"
    assert sorted(seen) == sorted(ids) and len(seen) == 3
    assert member.get("/volumes?sort=size:sideways").status_code == 400
    assert member.get("/volumes?sort=id&sort_key=id").status_code == 400
    assert member.get("/volumes?marker=00000000-0000-0000-0000-000000000000").status_code == 404


def test_the_quota_set_has_cinders_keys_enforces_the_size_of_one_volume_and_resets(
    cinder, capture, host, world
):
    project = world["home"].pk
    admin = cinder["admin"]
    shown = admin.get(f"/os-quota-sets/{project}").json()["quota_set"]
    keys = {"volumes", "gigabytes", "per_volume_gigabytes", "snapshots", "backups", "backup_gigabytes"}
    assert keys | {"groups"} <= set(shown)
    assert shown["snapshots"] == 0
    assert shown["per_volume_gigabytes"] == -1
    usage = admin.get(f"/os-quota-sets/{project}?usage=true").json()["quota_set"]
    assert usage["backups"] == {"limit": 0, "in_use": 0, "reserved": 0, "allocated": 0}
    values = {"snapshots": 11, "backups": 11, "backup_gigabytes": 1009, "per_volume_gigabytes": 2}
    updated = admin.put(f"/os-quota-sets/{project}", {"quota_set": values}).json()["quota_set"]
    assert values.items() <= updated.items()
    absolute = cinder["member"].get("/limits").json()["limits"]["absolute"]
    assert (absolute["maxTotalSnapshots"], absolute["maxTotalBackupGigabytes"]) == (11, 1009)
    too_big = cinder["member"].post("/volumes", {"volume": {"size": 3}})
    assert too_big.status_code == 413 and "VolumeSizeExceedsLimit" in too_big.content.decode()
    volume = create(cinder, capture, host, size=2)["id"]
    extend = cinder["member"].post(f"/volumes/{volume}/action", {"os-extend": {"new_size": 3}})
    assert extend.status_code == 413
    assert Volume.objects.get(pk=volume).size == 2
    assert cinder["member"].delete(f"/os-quota-sets/{project}").status_code == 403
    assert admin.delete(f"/os-quota-sets/{project}").status_code == 200
    assert not QuotaLimit.objects.filter(project_id=project).exists()
    assert admin.get(f"/os-quota-sets/{project}").json()["quota_set"]["per_volume_gigabytes"] == -1


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("snapshot_id", "Snapshot"),
        ("backup_id", "Backup"),
        ("volume_type", "Volume type"),
    ],
)
def test_a_volume_from_a_snapshot_backup_or_type_that_does_not_exist_is_a_404(cinder, field, message):
    response = cinder["member"].post(
        "/volumes", {"volume": {"size": 1, field: "5137a025-3c5f-43c1-bc64-5f41270040a5"}}
    )
    assert response.status_code == 404 and message in response.content.decode()
    assert not Volume.objects.exists()


def test_the_default_volume_type_is_accepted_by_name(cinder, capture, host):
    made = create(cinder, capture, host, volume_type="__DEFAULT__")
    assert made["volume_type"] == "__DEFAULT__"


def test_a_volume_is_not_detached_from_a_rescued_server(world, cinder, capture, host, image, tiny):
    server_id = server(world, host, image, tiny, capture)
    volume_id = create(cinder, capture, host)["id"]
    with capture() as callbacks:
        world["member"].post(
            f"/servers/{server_id}/os-volume_attachments", {"volumeAttachment": {"volumeId": volume_id}}
        )
    Run(capture, host)(callbacks)
    with capture() as callbacks:
        assert world["member"].post(f"/servers/{server_id}/action", {"rescue": None}).status_code == 200
    Run(capture, host)(callbacks)
    response = world["member"].delete(f"/servers/{server_id}/os-volume_attachments/{volume_id}")
    assert response.status_code == 409 and "rescued" in response.content.decode()
    assert Volume.objects.get(pk=volume_id).status == "in-use"


def test_an_admin_lists_one_projects_volumes_with_all_tenants_and_project_id(cinder, capture, host, world):
    mine = create(cinder, capture, host)["id"]
    theirs = create(cinder, capture, host, who="admin")["id"]
    home = world["home"].pk
    listed = cinder["admin"].get(f"/volumes/detail?all_tenants=1&project_id={home}").json()["volumes"]
    assert [v["id"] for v in listed] == [mine]
    assert listed[0]["os-vol-tenant-attr:tenant_id"] == home
    made = cinder["admin"].post("/volumes", {"volume": {"size": 1}}).json()["volume"]
    assert "os-vol-tenant-attr:tenant_id" not in made and "os-vol-host-attr:host" not in made  # as Cinder
    everything = cinder["admin"].get("/volumes/detail?all_tenants=1").json()["volumes"]
    assert {v["id"] for v in everything} == {mine, theirs, made["id"]}
    assert cinder["member"].get(f"/volumes?all_tenants=1&project_id={home}").status_code == 403


def test_a_volume_is_reserved_once_and_unreserved_and_update_answers_without_image_metadata(
    cinder, capture, host
):
    volume = create(cinder, capture, host)["id"]
    member = cinder["member"]
    assert member.post(f"/volumes/{volume}/action", {"os-reserve": None}).status_code == 202
    assert Volume.objects.get(pk=volume).status == "attaching"
    again = member.post(f"/volumes/{volume}/action", {"os-reserve": None})
    assert again.status_code == 400 and "reserve" in again.content.decode()
    assert cinder["reader"].post(f"/volumes/{volume}/action", {"os-unreserve": None}).status_code == 403
    assert member.post(f"/volumes/{volume}/action", {"os-unreserve": None}).status_code == 202
    assert Volume.objects.get(pk=volume).status == "available"
    missing = member.post("/volumes/5137a025-3c5f-43c1-bc64-5f41270040a5/action", {"os-reserve": None})
    assert missing.status_code == 404
    Volume.objects.filter(pk=volume).update(volume_image_metadata={"image_name": "img"})
    updated = member.put(f"/volumes/{volume}", {"volume": {"name": "renamed"}}).json()["volume"]
    assert updated["name"] == "renamed" and "volume_image_metadata" not in updated
    assert member.get(f"/volumes/{volume}").json()["volume"]["volume_image_metadata"] == {"image_name": "img"}
