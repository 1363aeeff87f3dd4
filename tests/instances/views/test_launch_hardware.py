"""The Launch Instance page says what the chosen image asks of the guest's hardware, warns before
a launch the service would refuse, and the service's refusal becomes a message with nothing made."""

from __future__ import annotations

import pytest

from flavors import services as flavor_services
from instances.models import Instance
from tests.instances.conftest import upload_image
from tests.instances.dashboard_support import browser_for, launch_form, launch_in_dashboard
from tests.instances.installer import build_installer_iso
from tests.instances.views.test_launch import reason_of


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def hint(page: str) -> str:
    return page.split('data-testid="image-hardware">')[1].split("</div>")[0]


def test_the_page_shows_what_the_chosen_image_asks_for(world, host, stores_dir, marker_bytes, tiny):
    props = {"hw_disk_bus": "scsi", "hw_vif_model": "e1000", "hw_machine_type": "pc"}
    image = upload_image(world["home"].pk, marker_bytes, name="legacy", properties=props)
    page = browser_for("member").get(f"/instances/launch/?image={image.pk}").content.decode()
    assert "Disk bus: scsi, NIC: e1000, machine: pc" in hint(page)
    assert "Yes" in reason_of(page, "t.tiny")


def test_an_image_without_properties_gets_the_standard_line_and_no_image_no_line(world, host, image, tiny):
    client = browser_for("member")
    page = client.get(f"/instances/launch/?image={image.pk}").content.decode()
    assert "Standard hardware: virtio disks and NIC, q35 machine." in hint(page)
    assert 'data-testid="image-hardware"' not in client.get("/instances/launch/").content.decode()


def test_an_iso_says_it_installs_from_a_cd_rom_onto_a_blank_disk(world, host, stores_dir, tmp_path, tiny):
    data = build_installer_iso(tmp_path / "i.iso", "view").read_bytes()
    iso = upload_image(world["home"].pk, data, name="installer", disk_format="iso")
    page = browser_for("member").get(f"/instances/launch/?image={iso.pk}").content.decode()
    assert 'data-source="installer"' in page
    assert "Boots from the ISO as a CD-ROM (sata) and installs onto a blank root disk" in hint(page)


def test_an_unsupported_value_is_shown_and_the_launch_is_refused_with_nothing_made(
    world, host, stores_dir, marker_bytes, tiny, capture
):
    image = upload_image(world["home"].pk, marker_bytes, name="odd", properties={"hw_vif_model": "ne2k_pci"})
    client = browser_for("member")
    page = client.get(f"/instances/launch/?image={image.pk}").content.decode()
    assert "hw_vif_model=ne2k_pci is not supported" in hint(page)
    assert "The launch will be refused." in hint(page)
    with capture() as callbacks:
        response = client.post("/instances/launch/", launch_form(image, tiny))
    assert response.status_code == 200 and callbacks == []
    assert (
        "Could not launch web: Image property hw_vif_model=ne2k_pci is not supported"
        in response.content.decode()
    )
    assert not Instance.objects.exists()


def test_a_flavor_that_does_not_allow_the_images_rng_says_why(world, host, stores_dir, marker_bytes, tiny):
    strict = flavor_services.create_flavor(name="t.strict", vcpus=1, ram=128, disk=1)
    flavor_services.set_extra_specs(strict, {"hw_rng:allowed": "False"})
    image = upload_image(world["home"].pk, marker_bytes, name="rng", properties={"hw_rng_model": "virtio"})
    page = browser_for("member").get(f"/instances/launch/?image={image.pk}").content.decode()
    assert "hw_rng_model=virtio is not allowed by the flavor (hw_rng:allowed=False)" in reason_of(
        page, "t.strict"
    )
    assert "Yes" in reason_of(page, "t.tiny")


def test_a_launch_from_the_page_gets_the_images_hardware(
    world, host, stores_dir, marker_bytes, tiny, capture
):
    props = {"hw_disk_bus": "sata", "hw_vif_model": "e1000", "hw_machine_type": "pc"}
    image = upload_image(world["home"].pk, marker_bytes, name="legacy", properties=props)
    (made,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture)
    spec = host.driver.saved_spec(str(made.pk))
    assert (spec.disk_bus, spec.nic_model, spec.machine) == ("sata", "e1000", "pc")


def test_the_detail_of_an_iso_instance_shows_the_cd_rom_and_the_blank_root_disk(
    world, host, stores_dir, tmp_path, tiny, capture
):
    data = build_installer_iso(tmp_path / "i.iso", "detail").read_bytes()
    iso = upload_image(world["home"].pk, data, name="installer", disk_format="iso")
    (made,) = launch_in_dashboard(browser_for("member"), host, iso, tiny, capture)
    page = browser_for("member").get(f"/instances/{made.pk}/").content.decode()
    rows = page.split('data-testid="disks">')[1].split("</table>")[0]
    cdrom = rows.split('data-disk="cdrom"')[1].split("</tr>")[0]
    assert "CD-ROM: image installer (ISO), read-only, first in the boot order" in cdrom
    assert "no, the image stays" in cdrom
    root = rows.split('data-disk="vda"')[1].split("</tr>")[0]
    assert "blank at launch" in root and "copy-on-write" not in root
    assert rows.index('data-disk="cdrom"') < rows.index('data-disk="vda"')
