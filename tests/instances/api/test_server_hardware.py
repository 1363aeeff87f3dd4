"""The image's hardware properties at POST /servers, on an in-process fake-driver host: what the
image asks for is in the guest the agent defines, a value no guest here can have is a 400 naming
the property and the value with nothing made, and an ISO boots as a CD-ROM onto a blank root disk."""

from __future__ import annotations

import hashlib
import json

import pytest

from flavors import services as flavor_services
from instances.models import Instance, Volume
from instances.virt import disks
from tests.instances.api.test_server_guest_input import refused
from tests.instances.api.test_servers import act, launch
from tests.instances.conftest import upload_image
from tests.instances.installer import build_installer_iso
from tests.instances.volume_support import Run, VolumeCaller


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def image_with(world, marker_bytes, **properties):
    return upload_image(world["home"].pk, marker_bytes, name="hw", properties=properties)


@pytest.fixture
def iso(world, stores_dir, tmp_path):
    data = build_installer_iso(tmp_path / "installer.iso", "unit").read_bytes()
    return upload_image(world["home"].pk, data, name="installer", disk_format="iso")


def test_what_the_image_asks_for_is_the_guest_the_agent_defines(
    world, host, stores_dir, marker_bytes, tiny, capture
):
    image = image_with(
        world,
        marker_bytes,
        hw_machine_type="pc",
        hw_disk_bus="sata",
        hw_vif_model="e1000",
        hw_video_model="cirrus",
        hw_rng_model="virtio",
        hw_qemu_guest_agent="yes",
        hw_pointer_model="usbtablet",
        hw_boot_menu="true",
        os_type="windows",
    )
    server_id = launch(world, host, image, tiny, capture)
    assert Instance.objects.get(pk=server_id).vm_state == "active"
    spec = host.driver.saved_spec(server_id)
    assert (spec.machine, spec.disk_bus, spec.nic_model, spec.video_model) == (
        "pc",
        "sata",
        "e1000",
        "cirrus",
    )
    assert (spec.rng_model, spec.guest_agent, spec.pointer_model) == ("virtio", True, "usbtablet")
    assert (spec.boot_menu, spec.clock, spec.cdrom) == (True, "localtime", "")
    # And after a stop and start, which rebuild the spec from the instance.
    act(world, host, server_id, {"os-stop": None}, capture)
    act(world, host, server_id, {"os-start": None}, capture)
    assert host.driver.saved_spec(server_id) == spec


def test_an_image_without_hardware_properties_gets_the_standard_guest(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)
    spec = host.driver.saved_spec(server_id)
    assert (spec.machine, spec.disk_bus, spec.nic_model, spec.video_model, spec.clock) == (
        "q35", "virtio", "virtio", "std", "utc",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hw_disk_bus", "floppy"),
        ("hw_scsi_model", "lsilogic"),
        ("hw_cdrom_bus", "virtio"),
        ("hw_vif_model", "ne2k_pci"),
        ("hw_video_model", "qxl"),
        ("hw_machine_type", "pc-i440fx-2.11"),
        ("hw_rng_model", "egd"),
        ("hw_qemu_guest_agent", "maybe"),
        ("hw_pointer_model", "virtiotablet"),
        ("hw_boot_menu", "sometimes"),
        ("hw_firmware_type", "efi"),
        ("os_type", "plan9"),
    ],
)
def test_an_unsupported_value_is_a_400_naming_the_property_and_the_value_and_nothing_is_made(
    world, host, stores_dir, marker_bytes, tiny, capture, name, value
):
    image = image_with(world, marker_bytes, **{name: value})
    message = refused(world, image, tiny, capture, f"{name}={value}")
    assert "not supported" in message


def test_ide_on_the_default_q35_machine_is_refused_and_allowed_on_pc(
    world, host, stores_dir, marker_bytes, tiny, capture
):
    message = refused(
        world, image_with(world, marker_bytes, hw_disk_bus="ide"), tiny, capture, "hw_disk_bus=ide"
    )
    assert "q35" in message
    on_pc = image_with(world, marker_bytes, hw_disk_bus="ide", hw_machine_type="pc")
    server_id = launch(world, host, on_pc, tiny, capture)
    assert host.driver.saved_spec(server_id).disk_bus == "ide"


def test_a_flavor_that_does_not_allow_an_rng_refuses_an_image_asking_for_one(
    world, host, stores_dir, marker_bytes, tiny, capture
):
    flavor_services.set_extra_specs(tiny, {"hw_rng:allowed": "False"})
    image = image_with(world, marker_bytes, hw_rng_model="virtio")
    assert "hw_rng:allowed=False" in refused(world, image, tiny, capture, "hw_rng_model=virtio")


def test_a_boot_volume_from_an_image_with_an_unsupported_value_is_refused_before_the_volume_is_made(
    world, host, stores_dir, marker_bytes, tiny, capture, settings, tmp_path
):
    settings.VOLUMES_DIR = tmp_path / "volumes"
    image = image_with(world, marker_bytes, hw_vif_model="pcnet")
    bdm = [{"uuid": str(image.pk), "source_type": "image", "destination_type": "volume", "boot_index": 0,
            "volume_size": 1}]  # fmt: skip
    refused(world, image, tiny, capture, "hw_vif_model=pcnet", imageRef="", block_device_mapping_v2=bdm)
    assert not Volume.objects.exists()


# --- boot from an ISO ----------------------------------------------------------------------------


def test_an_iso_boots_as_a_read_only_cd_rom_with_a_blank_root_disk_of_the_flavors_size(
    world, host, iso, tiny, capture
):
    assert iso.status == "active" and iso.disk_format == "iso"
    server_id = launch(world, host, iso, tiny, capture)
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.image_disk_format) == ("active", "iso")
    spec = host.driver.saved_spec(server_id)
    cached = host.cache.base_path(str(iso.pk))
    assert spec.cdrom == str(cached) and spec.cdrom_bus_used == "sata"
    assert hashlib.sha512(cached.read_bytes()).hexdigest() == iso.os_hash_value
    assert cached.stat().st_mode & 0o777 == 0o444
    meta = json.loads((host.cache.root / f"{iso.pk}.json").read_text())
    assert meta["disk_format"] == "iso"
    root = disks.info(spec.disk("vda").path, "qcow2")
    assert root.backing_file is None  # blank: the ISO is never a backing file
    assert root.virtual_size == tiny.disk * 1024**3
    assert [d.target for d in spec.disks] == ["vda", "vdb", "vdh"]
    # A hard reboot and a stop/start keep the CD-ROM first: the installer decides what boots.
    act(world, host, server_id, {"reboot": {"type": "HARD"}}, capture)
    act(world, host, server_id, {"os-stop": None}, capture)
    act(world, host, server_id, {"os-start": None}, capture)
    assert host.driver.saved_spec(server_id).cdrom == str(cached)


def test_an_iso_follows_hw_cdrom_bus_and_the_machines_default(
    world, host, stores_dir, tmp_path, tiny, capture
):
    data = build_installer_iso(tmp_path / "i.iso", "bus").read_bytes()
    owner = world["home"].pk
    on_pc = upload_image(owner, data, disk_format="iso", properties={"hw_machine_type": "pc"})
    on_scsi = upload_image(owner, data, disk_format="iso", properties={"hw_cdrom_bus": "scsi"})
    assert host.driver.saved_spec(launch(world, host, on_pc, tiny, capture)).cdrom_bus_used == "ide"
    assert host.driver.saved_spec(launch(world, host, on_scsi, tiny, capture)).cdrom_bus_used == "scsi"
    bad = upload_image(owner, data, disk_format="iso", properties={"hw_cdrom_bus": "ide"})
    assert "q35" in refused_later(world, bad, tiny, capture)


def refused_later(world, image, flavor, capture) -> str:
    """refused() for a test that already made instances: only the count must not grow."""
    before = Instance.objects.count()
    with capture() as callbacks:
        response = world["member"].post(
            "/servers", {"server": {"name": "x", "imageRef": str(image.pk), "flavorRef": flavor.pk,
                                    "networks": "none"}}, "2.96",
        )  # fmt: skip
    assert response.status_code == 400 and callbacks == [] and Instance.objects.count() == before
    return response.json()["badRequest"]["message"]


def test_a_volume_goes_onto_a_running_sata_guest_only_once_it_is_stopped(
    world, host, stores_dir, marker_bytes, tiny, capture, settings, tmp_path
):
    settings.VOLUMES_DIR = tmp_path / "volumes"
    cinder = VolumeCaller(world["member"])
    server_id = launch(world, host, image_with(world, marker_bytes, hw_disk_bus="sata"), tiny, capture)
    with capture() as callbacks:
        made = cinder.post("/volumes", {"volume": {"size": 1, "name": "data"}})
    Run(capture, host)(callbacks)
    volume_id = made.json()["volume"]["id"]
    body = {"volumeAttachment": {"volumeId": volume_id}}
    with capture() as callbacks:
        assert world["member"].post(f"/servers/{server_id}/os-volume_attachments", body).status_code == 200
    Run(capture, host)(callbacks)
    volume = Volume.objects.get(pk=volume_id)
    assert (
        volume.status == "available"
        and "sata bus, which takes no disk while the guest runs" in volume.error_message
    )
    assert host.driver.saved_spec(server_id).disk("vdc") is None
    act(world, host, server_id, {"os-stop": None}, capture)
    with capture() as callbacks:
        assert world["member"].post(f"/servers/{server_id}/os-volume_attachments", body).status_code == 200
    Run(capture, host)(callbacks)
    assert Volume.objects.get(pk=volume_id).status == "in-use"
    act(world, host, server_id, {"os-start": None}, capture)
    spec = host.driver.saved_spec(server_id)
    assert spec.disk("vdc") is not None and spec.devices_on("sata") == ["vda", "vdb", "vdc", "vdh"]
