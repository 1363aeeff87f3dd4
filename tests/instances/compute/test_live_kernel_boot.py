"""A real Linux guest booted as Nova boots an AMI: the Linux test guest's kernel uploaded as an aki
image, its initramfs as an ari image, and a blank raw disk as the ami that names both. Launched
through the Compute API onto a compute host in this process whose driver is the real QEMU driver
(TCG); the guest's own line on its serial console proves the kernel and initrd came from the image
cache with the image's command line."""

from __future__ import annotations

import pytest

from flavors import services as flavor_services
from instances.compute import agent
from instances.compute.manager import ComputeManager
from instances.models import Instance
from instances.virt.qemu import QemuDriver
from tests.instances.api.test_servers import launch
from tests.instances.conftest import upload_guest_triple
from tests.plugin import TEST_ROOT
from tests.support.linuxguest import build_guest, console_lines
from tests.support.processes import require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live
MARKER = "AMI"
CMDLINE = f"console=ttyS0 quiet panic=-1 stratus.marker={MARKER} stratus.dhcp=0"


@pytest.fixture
def qemu_host(db, tmp_path, settings):
    require("qemu-system-x86_64")
    require("qemu-img")
    settings.VIRT_DRIVER = "qemu"
    state = tmp_path / "state-qemu"
    manager = ComputeManager("qemu-host", QemuDriver(state / "guests", accel="tcg"), state)
    agent.register(manager, "nova", {"vcpus": 2, "memory_mb": 2048, "disk_gb": 20})
    return manager


def test_an_ami_boots_the_linux_guest_from_its_aki_and_ari_images(
    world, stores_dir, qemu_host, django_capture_on_commit_callbacks
):
    built = build_guest(TEST_ROOT / "linux-guest")
    owner = world["home"].pk
    root = upload_guest_triple(owner, built, CMDLINE)
    flavor = flavor_services.create_flavor(name="t.linux", vcpus=1, ram=256, disk=1)

    server_id = launch(world, qemu_host, root, flavor, django_capture_on_commit_callbacks)
    try:
        assert Instance.objects.get(pk=server_id).vm_state == "active"
        spec = qemu_host.driver.saved_spec(server_id)
        assert spec.kernel == str(qemu_host.cache.base_path(root.properties["kernel_id"]))
        assert spec.ramdisk == str(qemu_host.cache.base_path(root.properties["ramdisk_id"]))
        assert spec.cmdline == CMDLINE

        def ready() -> str | None:
            lines = console_lines(qemu_host.driver.console_output(server_id, None), MARKER)
            return next((line for line in lines if line.startswith("ready")), None)

        assert wait_for(ready, timeout=120, interval=0.5, what=f"'{MARKER} ready' on the guest's console")
    finally:
        qemu_host.destroy_local(server_id)
