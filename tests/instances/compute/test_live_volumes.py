"""Volumes with real QEMU guests (TCG) on a live stack: hot-plug as vdc over QMP, data that
outlives its instance, boot from volume, and the openstack CLI's volume commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from instances.virt.qmp import QMPClient
from tests.instances.live import Cloud, qemu_pids, token
from tests.support.processes import require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


class Volumes:
    """The Block Storage API as a client sees it."""

    def __init__(self, stack, tok: str, project_id: str):
        self.base = f"{stack.url}/volume/v3/{project_id}"
        self.headers = {"X-Auth-Token": tok, "OpenStack-API-Version": "volume 3.71"}

    def create(self, **fields) -> str:
        response = requests.post(
            f"{self.base}/volumes", json={"volume": fields}, headers=self.headers, timeout=30
        )
        assert response.status_code == 202, response.text
        return response.json()["volume"]["id"]

    def show(self, volume_id: str) -> dict:
        response = requests.get(f"{self.base}/volumes/{volume_id}", headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["volume"]

    def wait(self, volume_id: str, status: str, timeout: float = 120) -> dict:
        def check():
            volume = self.show(volume_id)
            assert volume["status"] != "error" or status == "error", volume
            return volume["status"] == status and volume

        return wait_for(check, timeout=timeout, interval=0.2, what=f"volume {volume_id} to be {status}")

    def delete(self, volume_id: str) -> requests.Response:
        return requests.delete(f"{self.base}/volumes/{volume_id}", headers=self.headers, timeout=30)


@pytest.fixture(scope="module")
def demo(live_stack, credentials, compute_host):
    tok = token(live_stack, "demo", credentials["demo"], "demo")
    project_id = requests.get(
        f"{live_stack.url}/identity/v3/auth/tokens",
        headers={"X-Auth-Token": tok, "X-Subject-Token": tok},
        timeout=30,
    ).json()["token"]["project"]["id"]
    return Cloud(live_stack, tok), Volumes(live_stack, tok, project_id)


def block_devices(live_stack, host: str, server_id: str) -> set[str]:
    socket = live_stack.compute_state_dir(host) / "instances" / server_id / "qmp.sock"
    with QMPClient(socket) as client:
        return {b["qdev"] for b in client.execute("query-block")}


def qemu_io(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([require("qemu-io"), *args], capture_output=True, text=True, timeout=60, check=True)


def attach(cloud: Cloud, server_id: str, volume_id: str, **extra) -> dict:
    body = {"volumeAttachment": {"volumeId": volume_id, "device": None, **extra}}
    response = cloud.post(f"/servers/{server_id}/os-volume_attachments", body, "2.79")
    assert response.status_code == 200, response.text
    return response.json()["volumeAttachment"]


def test_a_volume_is_hot_plugged_as_vdc_and_its_data_outlives_the_instance(
    live_stack, demo, compute_host, marker_image
):
    cloud, volumes = demo
    volume_id = volumes.create(size=1, name="data")
    first = cloud.create("vol-a", marker_image["id"], marker_image["flavor"])
    volumes.wait(volume_id, "available")
    cloud.wait_status(first, "ACTIVE")

    assert attach(cloud, first, volume_id)["device"] == "/dev/vdc"
    shown = volumes.wait(volume_id, "in-use")
    assert shown["attachments"][0]["server_id"] == first
    assert "/machine/peripheral/dev-vdc/virtio-backend" in block_devices(live_stack, compute_host, first)

    # In use: no second attach, no delete, and nothing changes.
    assert (
        cloud.post(
            f"/servers/{first}/os-volume_attachments", {"volumeAttachment": {"volumeId": volume_id}}
        ).status_code
        == 400
    )
    refused = volumes.delete(volume_id)
    assert refused.status_code == 400 and "attached" in refused.json()["badRequest"]["message"]
    assert volumes.show(volume_id)["status"] == "in-use"

    assert cloud.delete(f"/servers/{first}/os-volume_attachments/{volume_id}").status_code == 202
    volumes.wait(volume_id, "available")
    assert "/machine/peripheral/dev-vdc/virtio-backend" not in block_devices(live_stack, compute_host, first)

    # Written from the host side while detached; the instance's delete leaves it alone.
    path = Path(live_stack.data_dir) / "volumes" / f"volume-{volume_id}.qcow2"
    qemu_io("-f", "qcow2", "-c", "write -P 0x5a 0 4k", str(path))
    attach(cloud, first, volume_id, delete_on_termination=False)
    volumes.wait(volume_id, "in-use")
    assert cloud.delete(f"/servers/{first}").status_code == 204
    cloud.wait_deleted(first)
    assert qemu_pids(first) == []
    assert volumes.wait(volume_id, "available")["attachments"] == []
    assert (
        "pattern verification failed"
        not in qemu_io("-f", "qcow2", "-c", "read -P 0x5a 0 4k", str(path)).stdout
    )

    second = cloud.create("vol-b", marker_image["id"], marker_image["flavor"])
    cloud.wait_status(second, "ACTIVE")
    attach(cloud, second, volume_id)
    volumes.wait(volume_id, "in-use")
    assert "/machine/peripheral/dev-vdc/virtio-backend" in block_devices(live_stack, compute_host, second)
    cloud.delete(f"/servers/{second}")
    cloud.wait_deleted(second)
    volumes.wait(volume_id, "available")
    assert volumes.delete(volume_id).status_code == 202
    wait_for(lambda: not path.exists(), timeout=30, what="the volume file to be removed")


def bfv_body(image_id: str, flavor: str, name: str, delete_on_termination: bool) -> dict:
    bdm = {
        "uuid": image_id,
        "source_type": "image",
        "destination_type": "volume",
        "boot_index": 0,
        "volume_size": 1,
        "delete_on_termination": delete_on_termination,
    }
    return {
        "server": {"name": name, "flavorRef": flavor, "networks": "none", "block_device_mapping_v2": [bdm]}
    }


def test_boot_from_volume_prints_the_marker_and_delete_on_termination_decides_the_volume(
    live_stack, demo, compute_host, marker_image
):
    cloud, volumes = demo
    kept = {}
    for flag in (True, False):
        response = cloud.post(
            "/servers", bfv_body(marker_image["id"], marker_image["flavor"], f"bfv-{flag}", flag)
        )
        assert response.status_code == 202, response.text
        server_id = response.json()["server"]["id"]
        server = cloud.wait_status(server_id, "ACTIVE", timeout=180)
        assert server["image"] == ""
        wait_for(
            lambda s=server_id: marker_image["marker"] in cloud.console(s),
            timeout=60,
            interval=0.2,
            what="the marker on the console of the volume-booted guest",
        )
        (attachment,) = cloud.get(f"/servers/{server_id}/os-volume_attachments", "2.89").json()[
            "volumeAttachments"
        ]
        assert attachment["device"] == "/dev/vda"
        volume = volumes.show(attachment["volumeId"])
        assert volume["bootable"] == "true" and volume["status"] == "in-use"
        assert volume["volume_image_metadata"]["image_id"] == marker_image["id"]
        assert cloud.delete(f"/servers/{server_id}").status_code == 204
        cloud.wait_deleted(server_id)
        kept[flag] = attachment["volumeId"]
    wait_for(
        lambda: (
            requests.get(
                f"{volumes.base}/volumes/{kept[True]}", headers=volumes.headers, timeout=30
            ).status_code
            == 404
        ),
        timeout=60,
        what="the delete_on_termination volume to be deleted",
    )
    volumes.wait(kept[False], "available")
    assert volumes.delete(kept[False]).status_code == 202
