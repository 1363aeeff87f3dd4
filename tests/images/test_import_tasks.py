"""Glance's tasks: every import request leaves a task that goes pending → processing → success
or failure with the reason, shown under ``/v2/images/{id}/tasks``; the tasks API (admins only)
lists and shows them and makes an image imported from a URL; finished tasks expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from images import housekeeping, tasks
from images.models import Image, ImageTask
from images.staging import staging_path
from tests.images.conftest import qemu_img
from tests.images.live_support import RemoteFiles

pytestmark = pytest.mark.django_db


@pytest.fixture
def remote(tmp_path, settings):
    (tmp_path / "remote").mkdir()
    server = RemoteFiles(tmp_path / "remote")
    settings.IMAGE_IMPORT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.IMAGE_IMPORT_ALLOWED_PORTS = [server.port]
    yield server
    server.stop()


def qcow2(tmp_path) -> bytes:
    path = tmp_path / "disk.qcow2"
    qemu_img("create", "-f", "qcow2", str(path), "1M")
    return path.read_bytes()


def test_a_glance_direct_import_records_its_task_from_request_to_success(
    member, reader, stores_dir, tmp_path
):
    image = member.create()
    assert member.put(f"/v2/images/{image['id']}/stage", qcow2(tmp_path)).status_code == 204
    response = member.post(f"/v2/images/{image['id']}/import", {"method": {"name": "glance-direct"}})
    assert response.status_code == 202
    (task,) = reader.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
    assert (task["type"], task["status"], task["image_id"]) == ("api_image_import", "pending", image["id"])
    assert task["request_id"] == response["x-openstack-request-id"]
    assert task["input"]["import_req"]["method"]["name"] == "glance-direct"
    assert task["user_id"] == str(member.user.pk) and task["expires_at"] is None
    tasks.import_image(image["id"])
    (task,) = reader.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
    assert task["status"] == "success" and task["result"] == {"image_id": image["id"]}
    assert task["expires_at"] is not None
    assert Image.objects.get(pk=image["id"]).status == "active"


def test_a_failed_import_ends_its_task_with_the_reason(member, stores_dir, tmp_path):
    canary = tmp_path / "canary"
    canary.write_bytes(b"secret")
    path = tmp_path / "b.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(canary), "-F", "raw", str(path), "16M")
    image = member.create()
    member.put(f"/v2/images/{image['id']}/stage", path.read_bytes())
    member.post(f"/v2/images/{image['id']}/import", {"method": {"name": "glance-direct"}})
    tasks.import_image(image["id"])
    task = ImageTask.objects.get(image_id=image["id"])
    assert task.status == "failure" and "backing_file" in task.message
    assert Image.objects.get(pk=image["id"]).status == "queued"
    assert not staging_path(image["id"]).exists()


def test_deleting_an_image_whose_import_is_pending_fails_its_task(member, stores_dir, tmp_path):
    image = member.create()
    member.put(f"/v2/images/{image['id']}/stage", qcow2(tmp_path))
    member.post(f"/v2/images/{image['id']}/import", {"method": {"name": "glance-direct"}})
    assert member.delete(f"/v2/images/{image['id']}").status_code == 204
    task = ImageTask.objects.get(image_id=image["id"])
    assert task.status == "failure" and "deleted" in task.message


def test_an_image_without_imports_has_no_tasks_and_a_hidden_image_is_a_404(member, other, stores_dir):
    image = member.create()
    assert member.get(f"/v2/images/{image['id']}/tasks").json() == {"tasks": []}
    assert other.get(f"/v2/images/{image['id']}/tasks").status_code == 404


def test_the_tasks_api_imports_from_a_url_for_admins_only(admin, member, stores_dir, remote, tmp_path):
    (remote.root / "disk.qcow2").write_bytes(qcow2(tmp_path))
    body = {
        "type": "import",
        "input": {
            "import_from": remote.url("disk.qcow2"),
            "import_from_format": "qcow2",
            "image_properties": {"name": "from-task", "disk_format": "qcow2", "container_format": "bare"},
        },
    }
    assert member.post("/v2/tasks", body).status_code == 403
    assert member.get("/v2/tasks").status_code == 403
    response = admin.post("/v2/tasks", body)
    assert response.status_code == 201, response.content
    made = response.json()
    assert (made["type"], made["status"]) == ("import", "pending")
    image = Image.objects.get(pk=made["image_id"])
    assert (image.name, image.owner) == ("from-task", admin.project.pk)
    tasks.import_image(str(image.pk))
    shown = admin.get(f"/v2/tasks/{made['id']}").json()
    assert shown["status"] == "success" and shown["result"] == {"image_id": str(image.pk)}
    assert Image.objects.get(pk=image.pk).status == "active"
    listed = admin.get("/v2/tasks?status=success").json()["tasks"]
    assert [t["id"] for t in listed] == [made["id"]] and "input" not in listed[0]
    assert admin.get("/v2/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"type": "export"},
        {"input": {"import_from_format": "qcow2"}},
        {
            "input": {
                "import_from": "http://169.254.169.254/x",
                "import_from_format": "qcow2",
                "image_properties": {"disk_format": "qcow2", "container_format": "bare"},
            }
        },  # fmt: skip
    ],
)
def test_the_tasks_api_refuses_bad_tasks_and_makes_no_image(admin, stores_dir, change):
    body = {"type": "import", "input": {}, **change}
    assert admin.post("/v2/tasks", body).status_code == 400
    assert not Image.objects.exists() and not ImageTask.objects.exists()


def test_the_sweeper_removes_expired_tasks(member, stores_dir):
    image = member.create()
    old = ImageTask.objects.create(type="api_image_import", image_id=image["id"], owner="p", status="success")
    ImageTask.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    live = ImageTask.objects.create(type="api_image_import", image_id=image["id"], owner="p")
    assert housekeeping.sweep()["tasks"] == 1
    assert list(ImageTask.objects.values_list("pk", flat=True)) == [live.pk]
