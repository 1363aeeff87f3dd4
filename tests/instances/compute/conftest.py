"""Fixtures of the compute tests: a compute host with bridge networking in a network namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from instances.compute import agent, networking
from instances.compute.manager import ComputeManager
from instances.models import Instance
from instances.virt.fake import FakeDriver
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import Deliver


@pytest.fixture
def bridged(lab, tmp_path: Path, settings) -> ComputeManager:
    """A compute host whose instances get host bridges."""
    settings.VIRT_DRIVER = "fake"
    state = tmp_path / "state-bridged"
    network, mode = networking.choose(state, "bridge")
    manager = ComputeManager("bridged", FakeDriver(state), state, network=network, network_mode=mode)
    agent.register(manager, "nova", {"vcpus": 8, "memory_mb": 4096, "disk_gb": 100})
    return manager


def launch(world, manager, image, flavor, capture, who: str, name: str) -> Instance:
    with capture() as callbacks:
        response = world[who].post("/servers", create_body(image, flavor, name=name), "2.96")
    assert response.status_code == 202, response.content
    Deliver(manager)(callbacks)
    return Instance.objects.select_related("network").get(pk=response.json()["server"]["id"])
