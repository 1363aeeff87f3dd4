"""The Volumes section of Launch Instance through the real URLs: boot from an existing volume
(preselected from the Volumes panel's link), Create New Volume with its size rule, one
instance per volume launch, flavors judged without a local root disk, and launches that go
through to the compute service's BootVolume and come up ACTIVE on the fake-driver host."""

from __future__ import annotations

import pytest

from flavors import services
from instances.choices import VolumeStatus
from instances.models import Instance, Volume, VolumeAttachment
from instances.services import volume_quotas
from tests.instances.conftest import upload_image
from tests.instances.dashboard_support import browser_for, launch_form
from tests.instances.views.test_launch import reason_of
from tests.instances.volume_support import Run


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def vol_dir(settings, tmp_path):
    settings.VOLUMES_DIR = tmp_path / "volumes"
    return settings.VOLUMES_DIR


@pytest.fixture
def boot_volume(world, vol_dir, image, capture, host) -> Volume:
    """A bootable 1 GB volume written from the marker image, available."""
    with capture() as callbacks:
        response = browser_for("member").post(
            "/volumes/create/",
            {"name": "bootvol", "description": "", "size": "1", "source": str(image.pk)},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    Run(capture, host)(callbacks)
    volume = Volume.objects.get(name="bootvol")
    assert (volume.status, volume.bootable) == (VolumeStatus.AVAILABLE, True)
    return volume


def post(client, capture, host, image, flavor, **form):
    with capture() as callbacks:
        response = client.post("/instances/launch/", launch_form(image, flavor, **form))
    return response, callbacks


def test_the_volumes_panel_link_preselects_the_volume(world, host, boot_volume, tiny):
    page = browser_for("member").get(f"/instances/launch/?volume={boot_volume.pk}").content.decode()
    assert 'id="source-volume" value="volume" checked' in page
    assert f'value="{boot_volume.pk}" checked' in page and 'data-source="bootvol"' in page
    assert 'name="delete_on_termination"' in page and 'name="create_volume"' not in page
    assert 'data-testid="count-note"' in page and "readonly" in page.split('id="launch-count"')[1][:600]


def test_only_bootable_available_volumes_are_offered(world, host, boot_volume, tiny):
    Volume.objects.create(project=world["home"], name="blank", size=1, status=VolumeStatus.AVAILABLE)
    busy = Volume.objects.create(
        project=world["home"], name="busy", size=1, status=VolumeStatus.IN_USE, bootable=True
    )
    page = browser_for("member").get("/instances/launch/?source_type=volume").content.decode()
    assert 'data-source="bootvol"' in page
    assert 'data-source="blank"' not in page and f'value="{busy.pk}"' not in page


def test_create_new_volume_shows_the_size_rule_and_the_volume_in_the_summary(
    world, host, image, tiny, vol_dir
):
    volume_quotas.set_quota(world["home"], {"volumes": 5, "gigabytes": 20})
    page = (
        browser_for("member")
        .get(
            f"/instances/launch/?image={image.pk}&flavor={tiny.pk}&create_volume=yes&delete_on_termination=yes"
        )
        .content.decode()
    )
    assert 'id="id_volume_size" min="1"' in page and 'value="1"' in page.split('id="id_volume_size"')[1][:200]
    assert "At least 1 GB: the image's virtual size" in page
    will_use = page.split('data-testid="will-use">')[1].split("</p>")[0]
    assert "a new <strong>1 GB volume</strong> (5 volumes and 20 GB of volume storage left)" in will_use
    assert "deleted with the instance" in will_use and "<strong>1 GB</strong> local disk" in will_use
    assert 'data-quota="gigabytes"' in page and '0 + <span class="text-primary">1</span> of 20' in page


def test_a_size_below_the_images_needs_is_refused_with_the_rule(
    world, host, stores_dir, marker_bytes, tiny, capture
):
    needy = upload_image(world["home"].pk, marker_bytes, name="needy", min_disk=3)
    response, callbacks = post(
        browser_for("member"), capture, host, needy, tiny, create_volume="yes", volume_size="2"
    )
    page = response.content.decode()
    assert response.status_code == 200 and callbacks == []
    error = page.split('data-testid="volume-size-error">')[1].split("</div>")[0]
    assert error == "Volume size 2GB cannot be smaller than the image minDisk size 3GB."
    assert "At least 3 GB" in page
    assert not Instance.objects.exists() and not Volume.objects.exists()
    missing, _ = post(browser_for("member"), capture, host, needy, tiny, create_volume="yes", volume_size="")
    assert "Volume Size (GB) is required when creating a new volume." in missing.content.decode()


def test_more_than_one_instance_with_a_volume_is_refused(world, host, image, tiny, boot_volume, capture):
    client = browser_for("member")
    response, callbacks = post(
        client, capture, host, image, tiny, count=2, create_volume="yes", volume_size="1"
    )
    assert (
        callbacks == []
        and "Only one instance can boot from a volume per request" in response.content.decode()
    )
    response, callbacks = post(
        client, capture, host, image, tiny, count=3, source_type="volume", volume=str(boot_volume.pk)
    )
    assert callbacks == [] and 'data-testid="count-error"' in response.content.decode()
    assert not Instance.objects.exists() and Volume.objects.count() == 1
    page = client.get(f"/instances/launch/?volume={boot_volume.pk}&count=4").content.decode()
    assert 'data-testid="count-forced"' in page and 'value="1"' in page.split('id="launch-count"')[1][:600]


def test_flavors_need_no_root_disk_when_the_root_is_a_volume(world, host, stores_dir, marker_bytes):
    needy = upload_image(world["home"].pk, marker_bytes, name="needy", min_ram=256, min_disk=2)
    services.create_flavor(name="t.small", vcpus=1, ram=256, disk=1)
    services.create_flavor(name="t.lowram", vcpus=1, ram=128, disk=1)
    client = browser_for("member")
    local = client.get(f"/instances/launch/?image={needy.pk}").content.decode()
    assert "at least 2 GB of root disk" in reason_of(local, "t.small")
    on_volume = client.get(f"/instances/launch/?image={needy.pk}&create_volume=yes").content.decode()
    assert "Yes" in reason_of(on_volume, "t.small")
    assert "needs at least 256 MB of RAM" in reason_of(on_volume, "t.lowram")
    assert "root disk" not in reason_of(on_volume, "t.lowram")


def test_a_launch_with_create_new_volume_boots_from_the_new_volume(
    world, host, image, tiny, vol_dir, capture
):
    response, callbacks = post(
        browser_for("member"),
        capture,
        host,
        image,
        tiny,
        name="onvol",
        create_volume="yes",
        volume_size="2",
        delete_on_termination="yes",
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    Run(capture, host)(callbacks)
    instance = Instance.objects.get(name="onvol")
    attachment = VolumeAttachment.objects.select_related("volume").get(instance=instance)
    volume = attachment.volume
    assert (instance.status, instance.root_gb, instance.image_id) == ("ACTIVE", 0, "")
    assert (attachment.device, attachment.delete_on_termination) == ("vda", True)
    assert (volume.size, volume.status, volume.bootable, volume.source_image_id) == (
        2,
        VolumeStatus.IN_USE,
        True,
        str(image.pk),
    )
    assert host.driver.saved_spec(str(instance.pk)).disk("vda").path == str(volume.path)


def test_a_launch_from_a_volume_keeps_it_when_asked(world, host, image, tiny, boot_volume, capture):
    response, callbacks = post(
        browser_for("member"),
        capture,
        host,
        image,
        tiny,
        name="fromvol",
        source_type="volume",
        volume=str(boot_volume.pk),
        delete_on_termination="no",
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    Run(capture, host)(callbacks)
    instance = Instance.objects.get(name="fromvol")
    assert instance.status == "ACTIVE"
    attachment = VolumeAttachment.objects.get(instance=instance)
    assert (attachment.volume_id, attachment.device, attachment.delete_on_termination) == (
        boot_volume.pk,
        "vda",
        False,
    )
    boot_volume.refresh_from_db()
    assert boot_volume.status == VolumeStatus.IN_USE


def test_the_detail_page_and_the_volumes_panel_show_the_attachments(
    world, host, image, tiny, boot_volume, capture
):
    client = browser_for("member")
    response, callbacks = post(
        client,
        capture,
        host,
        image,
        tiny,
        name="fromvol",
        source_type="volume",
        volume=str(boot_volume.pk),
        delete_on_termination="no",
    )
    Run(capture, host)(callbacks)
    instance = Instance.objects.get(name="fromvol")
    data = Volume.objects.create(project=world["home"], name="data", size=3, status=VolumeStatus.IN_USE)
    VolumeAttachment.objects.create(volume=data, instance=instance, device="vdc", delete_on_termination=True)
    page = client.get(f"/instances/{instance.pk}/").content.decode()

    def disk(target: str) -> str:
        return page.split(f'data-disk="{target}"')[1].split("</tr>")[0]

    assert "root disk: persistent volume, made from image marker" in disk("vda")
    assert f'href="/volumes/#volume-{boot_volume.pk}" data-testid="disk-volume">bootvol</a>' in disk("vda")
    assert "1 GB" in disk("vda") and "no, the volume stays" in disk("vda")
    assert "persistent volume" in disk("vdc") and ">data</a>" in disk("vdc") and "3 GB" in disk("vdc")
    assert "<td>yes</td>" in disk("vdc") and "kept for volumes (none attached)" not in page
    panel = client.get("/volumes/").content.decode()
    row = panel.split(f'data-volume="{boot_volume.pk}"')[1].split("</tr>")[0]
    assert f'/dev/vda on <a href="/instances/{instance.pk}/">fromvol</a>' in row


def test_the_services_refusal_is_a_message_and_nothing_is_made(world, host, image, tiny, vol_dir, capture):
    volume_quotas.set_quota(world["home"], {"gigabytes": 1})
    page = (
        browser_for("member")
        .get(f"/instances/launch/?image={image.pk}&create_volume=yes&volume_size=2")
        .content.decode()
    )
    assert 'data-testid="volume-quota-warning"' in page
    response, callbacks = post(
        browser_for("member"), capture, host, image, tiny, create_volume="yes", volume_size="2"
    )
    assert response.status_code == 200 and callbacks == []
    assert "Could not launch web: VolumeSizeExceedsAvailableQuota: Requested gigabytes 2" in (
        response.content.decode()
    )
    assert not Instance.objects.exists() and not Volume.objects.exists()
