"""A real Linux guest finds its config drive (a read-only virtio disk holding an ISO 9660 image
labelled config-2) and reads its documents, booted by the QEMU driver under TCG."""

from __future__ import annotations

import json
import uuid

import pytest

from instances.virt import configdrive
from instances.virt.base import GuestSpec
from instances.virt.qemu import QemuDriver
from tests.plugin import TEST_ROOT
from tests.support.linuxguest import BASE_CMDLINE, build_guest, console_lines, guest_cmdline
from tests.support.processes import require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


def test_a_guest_reads_meta_data_json_from_its_config_drive(tmp_path):
    require("qemu-system-x86_64")
    guest_id = str(uuid.uuid4())
    document = {"uuid": guest_id, "name": "drive-reader", "public_keys": {"k": "ssh-ed25519 AAAA k"}}
    drive = configdrive.write(tmp_path / "disk.config", {
        "openstack/latest/meta_data.json": json.dumps(document).encode(),
        "openstack/latest/user_data": b"#!/bin/sh\n",
    })  # fmt: skip
    built = build_guest(TEST_ROOT / "linux-guest")
    options = guest_cmdline(marker="DRIVE", dhcp=False, config_drive=True)
    spec = GuestSpec(
        uuid=guest_id,
        name="drive-reader",
        vcpus=1,
        memory_mb=256,
        kernel=str(built.kernel),
        ramdisk=str(built.initrd),
        config_drive=str(drive),
        cmdline=f"{BASE_CMDLINE} {options}",
    )
    driver = QemuDriver(tmp_path / "qemu", accel="tcg")
    try:
        driver.spawn(spec)

        def read() -> str | None:
            log = driver.console_output(guest_id, None)
            lines = console_lines(log, "DRIVE")
            if "configdrive-missing" in lines:
                raise AssertionError(f"the guest found no config drive:\n{log}")
            return log if "configdrive-end" in lines else None

        log = wait_for(read, timeout=90, what="the guest's config drive")
        on_guest = json.loads(log.split("configdrive-begin")[1].split("\n", 1)[1].split("DRIVE")[0])
        assert on_guest == document
    finally:
        driver.destroy(guest_id)
