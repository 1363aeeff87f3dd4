from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from flavors import services
from images import services as image_services
from images.pipeline.upload import upload
from images.stores import all_stores
from instances.compute import agent
from instances.compute.manager import ComputeManager
from instances.virt.fake import FakeDriver
from instances.virt.hostnet import HostNetwork
from tests.instances.bootimage import build_boot_image
from tests.support.netlab import METADATA_PORT, Lab, inside
from tests.support.processes import require

# --- compute: a fake-driver host in this process, a real image in a real filesystem store -----


@pytest.fixture
def stores_dir(settings, tmp_path):

    settings.IMAGE_STORES = {"file": {"type": "filesystem", "path": str(tmp_path / "store")}}
    settings.IMAGE_DEFAULT_STORE = "file"
    settings.IMAGE_STAGING_DIR = tmp_path / "staging"
    all_stores.cache_clear()
    yield tmp_path
    all_stores.cache_clear()


def make_host(tmp_path, name: str = "host1", zone: str = "nova", **overrides):
    """A registered compute host driven by the fake driver, with its manager."""

    state = tmp_path / f"state-{name}"
    manager = ComputeManager(name, FakeDriver(state), state)
    agent.register(manager, zone, overrides or {"vcpus": 8, "memory_mb": 4096, "disk_gb": 100})
    return manager


@pytest.fixture
def host(db, tmp_path, settings):
    settings.VIRT_DRIVER = "fake"
    return make_host(tmp_path)


def upload_image(owner, data: bytes, *, disk_format: str = "raw", **fields):
    """An active image, created and uploaded through the image service's own pipeline."""

    values = {"name": "marker", "disk_format": disk_format, "container_format": "bare"}
    values.update(fields)
    properties = values.pop("properties", {})
    image = image_services.create_image(owner, values, properties, [])
    upload(image, [data], len(data))
    image.refresh_from_db()
    return image


def upload_guest_triple(owner, built, cmdline: str):
    """The Linux test guest as Glance's AKI/ARI/AMI triple: its kernel, its initramfs, and a blank
    1 MiB root disk whose properties point at them. Returns the AMI."""
    kernel = upload_image(owner, built.kernel.read_bytes(), disk_format="aki", container_format="aki")
    ramdisk = upload_image(owner, built.initrd.read_bytes(), disk_format="ari", container_format="ari")
    links = {"kernel_id": str(kernel.pk), "ramdisk_id": str(ramdisk.pk), "os_command_line": cmdline}
    return upload_image(
        owner, bytes(1024 * 1024), disk_format="ami", container_format="ami", properties=links
    )


@pytest.fixture
def marker_bytes(tmp_path) -> bytes:

    return build_boot_image(tmp_path / "marker.raw", "STRATUS-MARKER unit").read_bytes()


@pytest.fixture
def image(world, stores_dir, marker_bytes):
    return upload_image(world["home"].pk, marker_bytes, visibility="public")


@pytest.fixture
def tiny(db):

    return services.create_flavor(name="t.tiny", vcpus=1, ram=128, disk=1, ephemeral=1, swap=16)


class Deliver:
    """Runs the compute tasks a request enqueued (captured on-commit callbacks), in this process,
    on the named hosts' managers: what the host's agent would do with each message."""

    def __init__(self, *managers):
        self.managers = {m.host_name: m for m in managers}

    def __call__(self, callbacks) -> list[str]:
        ran = []
        for callback in callbacks:
            name, args, queue = callback.args[0], callback.keywords["args"], callback.keywords["queue"]
            manager = self.managers[queue.removeprefix("compute.")]
            method = name.removeprefix("instances.")
            if method == "console_output":
                continue
            getattr(manager, method)(*args)
            ran.append(name)
        return ran


# --- host networking: a throwaway network namespace as the host ----------------------------


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    for tool in ("ip", "nft", "dnsmasq", "busybox"):
        require(tool)
    lab = Lab(tag=secrets.token_hex(2), tmp=tmp_path)
    try:
        with inside(lab.namespace("host")):
            yield lab
    finally:
        lab.destroy()


@pytest.fixture
def hostnet(lab: Lab, tmp_path: Path) -> HostNetwork:
    return HostNetwork(tmp_path / "state", metadata_port=METADATA_PORT)
