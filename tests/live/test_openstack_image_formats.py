"""Every disk format of the seeds, end to end with the unmodified OpenStack clients: a bootable
marker disk in each format is uploaded with python-openstackclient directly (`image create --file`:
the bytes are kept as they are) and through the import (`image create --import`: glance-direct,
converted to qcow2), each image is launched on the live compute host with openstacksdk, and the
guest's marker, which names the format, shows in its console log. An OVA is a container for the
import only: its disk is taken out of it there.

The clients run in parallel (each `openstack` call is a new Python process) and the guests boot in
batches that fit the project's default quota."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import openstack
import pytest

from tests.support.diskformats import Disk, every_format
from tests.support.wait import wait_for

pytestmark = pytest.mark.live
MARKER = f"STRATUS-FMT-{uuid.uuid4().hex[:6]}"
BATCH = 5


@pytest.fixture
def sdk(live_stack, credentials):
    conn = openstack.connect(
        auth_url=f"{live_stack.url}/identity/v3", username="demo", password=credentials["demo"],
        project_name="demo", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne",
    )  # fmt: skip
    yield conn
    conn.close()


def upload(cli, disk: Disk, how: str, tag: str) -> tuple[Disk, str, str]:
    name = f"fmt-{disk.name}-{how}-{tag}"
    cli.run(
        "image", "create", "--disk-format", disk.disk_format, "--container-format", disk.container_format,
        "--file", str(disk.path), *(["--import"] if how == "import" else []), name,
    )  # fmt: skip
    return disk, how, name


def test_a_disk_in_every_format_uploads_imports_and_boots(
    openstack_demo, sdk, compute_host, marker_image, tmp_path
):
    disks = every_format(tmp_path, MARKER)
    assert sorted(d.name for d in disks) == sorted(
        ["raw", "qcow2-v2", "qcow2-v3", "vmdk-sparse", "vmdk-stream", "vhd", "vhdx", "vdi", "ova", "iso"]
    )
    tag = uuid.uuid4().hex[:4]
    jobs = [
        (d, how)
        for d in disks
        for how in ("direct", "import")
        if not (d.container_format == "ova" and how == "direct")
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        uploaded = list(pool.map(lambda job: upload(openstack_demo, *job, tag), jobs))

    images = {}

    def active(name: str):
        image = sdk.image.find_image(name, ignore_missing=False)
        assert image.status not in ("killed", "deleted"), image
        return image if image.status == "active" else None

    for disk, how, name in uploaded:
        image = wait_for(
            lambda name=name: active(name), timeout=120, interval=0.5, what=f"{name} to be active"
        )
        images[(disk.name, how)] = image
        if how == "direct":
            assert (image.disk_format, image.container_format) == (disk.disk_format, "bare")
        else:
            converted = disk.disk_format not in ("qcow2", "iso")
            assert (image.disk_format, image.container_format) == (
                "qcow2" if converted else disk.disk_format,
                "bare",
            ), name
            assert image.properties.get("source_disk_format") == (disk.disk_format if converted else None), (
                name
            )

    try:
        keys = list(images)
        for start in range(0, len(keys), BATCH):
            batch = keys[start : start + BATCH]
            servers = {
                key: sdk.compute.create_server(
                    name=images[key].name,
                    image_id=images[key].id,
                    flavor_id=marker_image["flavor"],
                    networks="none",
                )
                for key in batch
            }
            try:
                for (name, how), server in servers.items():
                    sdk.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.5)
                    marker = f"{MARKER} {name}"
                    wait_for(
                        lambda server=server, marker=marker: marker
                        in sdk.compute.get_server_console_output(server)["output"],
                        timeout=60, interval=0.5, what=f"{marker!r} on the console ({how})",
                    )  # fmt: skip
            finally:
                for server in servers.values():
                    sdk.compute.delete_server(server)
                for server in servers.values():
                    sdk.compute.wait_for_delete(server, wait=60)
    finally:
        for image in images.values():
            sdk.image.delete_image(image)
