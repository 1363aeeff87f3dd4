"""Fixtures of the compute tests: a compute host with bridge networking in a network namespace, and
the same host driving real QEMU guests (the Linux test guest, ``ssh_guest``, is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from instances.compute import agent, networking
from instances.compute.manager import ComputeManager
from instances.models import Instance
from instances.virt.fake import FakeDriver
from instances.virt.qemu import QemuDriver
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import Deliver
from tests.support.processes import require


@pytest.fixture
def bridged(lab, tmp_path: Path, settings) -> ComputeManager:
    """A compute host whose instances get host bridges."""
    settings.VIRT_DRIVER = "fake"
    state = tmp_path / "state-bridged"
    network, mode = networking.choose(state, "bridge")
    manager = ComputeManager("bridged", FakeDriver(state), state, network=network, network_mode=mode)
    agent.register(manager, "nova", {"vcpus": 8, "memory_mb": 4096, "disk_gb": 100})
    return manager


@pytest.fixture
def qemu_bridged(bridged: ComputeManager, tmp_path, settings) -> ComputeManager:
    """The bridged compute host, its guests real QEMU processes."""
    require("qemu-system-x86_64")
    require("qemu-img")
    settings.VIRT_DRIVER = "qemu"
    bridged.driver = QemuDriver(tmp_path / "guests", accel="tcg")
    return bridged


def launch(world, manager, image, flavor, capture, who: str, name: str) -> Instance:
    with capture() as callbacks:
        response = world[who].post("/servers", create_body(image, flavor, name=name), "2.96")
    assert response.status_code == 202, response.content
    Deliver(manager)(callbacks)
    return Instance.objects.select_related("network").get(pk=response.json()["server"]["id"])
