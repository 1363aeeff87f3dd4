"""The Delete Images and Delete Flavor dialogs name what uses each image or flavor: instances,
volumes and snapshots in projects the user may see (with links and the project), and count the
rest without naming them. The instances app adds its uses through the hooks of the layers below."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flavors.models import Flavor
from images.choices import ImageStatus, Visibility
from images.models import Image
from instances.models import Instance, Volume
from tests.instances.dashboard_support import browser_for, bulk_instances


@pytest.fixture
def public_image(world) -> Image:
    return Image.objects.create(
        name="ubuntu", owner=world["home"].pk, status=ImageStatus.ACTIVE, visibility=Visibility.PUBLIC, size=1
    )


def rename_all(project, prefix: str) -> list[Instance]:
    rows = list(Instance.objects.filter(project=project).order_by("name"))
    for n, row in enumerate(rows):
        row.name = f"{prefix}-{n}"
        row.save(update_fields=["name"])
    return rows


def test_delete_images_names_the_projects_uses_and_counts_another_projects(world, public_image):
    home, other = world["home"], world["other"]
    bulk_instances(home, 2, image_id=str(public_image.pk))
    web = rename_all(home, "web")
    bulk_instances(other, 3, image_id=str(public_image.pk))
    rename_all(other, "secret")
    Volume.objects.create(project=home, name="data-vol", size=1, source_image_id=str(public_image.pk))
    Volume.objects.create(project=other, name="hidden-vol", size=1, source_image_id=str(public_image.pk))
    Image.objects.create(name="nightly", owner=home.pk, properties={"base_image_ref": str(public_image.pk)})
    # A deleted instance no longer uses the image.
    bulk_instances(home, 1, image_id=str(public_image.pk), deleted=True, vm_state="deleted")

    page = browser_for("member").get("/images/delete/", {"id": public_image.pk}).content.decode()

    assert "Still used by 8:" in page
    assert f'<a href="/instances/{web[0].pk}/">web-0</a>' in page
    assert f'<a href="/instances/{web[1].pk}/">web-1</a>' in page
    assert "data-vol" in page and "nightly" in page and "(project home)" in page
    assert "secret" not in page and "hidden-vol" not in page and "bulk-" not in page
    assert "3 instances, 1 volume in other projects" in page


def test_an_unused_image_says_so(world, public_image):
    page = browser_for("member").get("/images/delete/", {"id": public_image.pk}).content.decode()
    assert 'data-testid="unused"' in page and "Still used by" not in page


def test_the_dialog_costs_the_same_queries_for_3_or_60_uses(world, public_image):
    def queries() -> int:
        client = browser_for("member")
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/images/delete/", {"id": public_image.pk}).status_code == 200
        return len(captured)

    bulk_instances(world["home"], 2, image_id=str(public_image.pk))
    bulk_instances(world["other"], 1, image_id=str(public_image.pk))
    few = queries()
    bulk_instances(world["home"], 40, image_id=str(public_image.pk))
    bulk_instances(world["other"], 17, image_id=str(public_image.pk))
    assert queries() == few


def test_delete_flavor_lists_every_instance_for_an_admin_with_its_project(world):
    flavor = Flavor.objects.create(id="f-small", name="small", vcpus=1, ram=128, disk=1)
    bulk_instances(world["home"], 2, flavor=flavor)
    bulk_instances(world["other"], 1, flavor=flavor)
    names = {i.pk: i.name for i in Instance.objects.filter(flavor=flavor)}

    page = browser_for("admin").get("/admin/flavors/delete/", {"id": flavor.pk}).content.decode()

    assert "Still used by 3:" in page
    for pk, name in names.items():
        assert f'<a href="/instances/{pk}/">{name}</a>' in page
    assert "(project home)" in page and "(project other)" in page
    assert "in other projects" not in page
