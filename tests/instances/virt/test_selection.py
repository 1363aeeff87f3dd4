"""The driver comes from settings, never from a silent fallback."""

from __future__ import annotations

import pytest

from instances.virt import get_driver
from instances.virt.base import VirtError
from instances.virt.fake import FakeDriver
from instances.virt.qemu import QemuDriver
from tests.dashboard.test_settings import load_settings


@pytest.mark.parametrize(("name", "value"), [("STRATUS_VIRT_DRIVER", "xen"), ("STRATUS_QEMU_ACCEL", "hvf")])
def test_a_bad_virt_setting_stops_start_up(tmp_path, name, value):
    result = load_settings(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


def test_the_setting_picks_the_driver_and_its_state_dir(settings, tmp_path):
    settings.COMPUTE_STATE_DIR = tmp_path / "compute"
    settings.VIRT_DRIVER = "fake"
    assert isinstance(get_driver(), FakeDriver)
    settings.VIRT_DRIVER = "qemu"
    settings.QEMU_ACCEL = "tcg"
    driver = get_driver()
    assert isinstance(driver, QemuDriver)
    assert driver.dirs.root == tmp_path / "compute"
    assert driver.capabilities().hypervisor_type == "qemu"


def test_a_missing_qemu_is_an_error_naming_the_binary(settings, tmp_path):
    settings.QEMU_BINARY = "qemu-system-missing"
    with pytest.raises(VirtError, match="`qemu-system-missing` is not installed"):
        get_driver("qemu", tmp_path)
