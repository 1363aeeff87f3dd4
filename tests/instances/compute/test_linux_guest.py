"""The real Linux test guest (tests/support/linuxguest.py) boots under TCG, gets its address by DHCP
and serves TCP: what the networking, metadata and config drive features will build on. Booted with
QEMU directly (user networking), so a failure here is the guest's, not the product's."""

from __future__ import annotations

import gzip
import socket
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugin import TEST_ROOT
from tests.support.linuxguest import (
    LinuxGuest,
    boot_argv,
    build_guest,
    console_fields,
    console_lines,
    guest_cmdline,
)
from tests.support.processes import Service, free_port, require
from tests.support.wait import WaitTimeout, wait_for

GUEST_CACHE = TEST_ROOT / "linux-guest"


@dataclass(frozen=True)
class BuiltGuest:
    guest: LinuxGuest
    seconds: float


@pytest.fixture(scope="session")
def linux_guest() -> BuiltGuest:
    """Built once per run into the suite's temp root; later builds find it in the cache."""
    require("busybox")
    start = time.monotonic()
    guest = build_guest(GUEST_CACHE)
    return BuiltGuest(guest, time.monotonic() - start)


def test_the_guest_is_a_newc_initramfs_and_is_built_once(linux_guest: BuiltGuest, capsys, tmp_path: Path):
    guest = linux_guest.guest
    start = time.monotonic()
    again = build_guest(GUEST_CACHE)
    cached = time.monotonic() - start
    assert (again.initrd, again.built) == (guest.initrd, False)
    assert {"virtio_net", "virtio_pci", "sr_mod", "isofs"} <= set(guest.modules)
    assert guest.modules.index("failover") < guest.modules.index("virtio_net")

    # Another reader of the format than the kernel: busybox's own cpio lists what was written.
    archive = tmp_path / "initrd.cpio"
    archive.write_bytes(gzip.decompress(guest.initrd.read_bytes()))
    with archive.open("rb") as stdin:
        listing = subprocess.run(
            [require("busybox"), "cpio", "-t"], stdin=stdin, capture_output=True, text=True, check=True
        ).stdout.split()
    assert {"init", "bin/busybox", "bin/sh", "dev/console", "lib/modules/virtio_net.ko"} <= set(listing)
    with capsys.disabled():
        print(
            f"\nlinux guest {guest.version}: {len(guest.modules)} modules, "
            f"{guest.initrd.stat().st_size // 1024} KiB initramfs; "
            f"build {linux_guest.seconds:.2f}s ({'built' if guest.built else 'cached'}), "
            f"cached {cached:.3f}s"
        )


def _ready(qemu: Service, serial: Path) -> list[str]:
    """The guest's console lines once it is ready; fails fast if it reported an error or QEMU ended."""
    qemu.check()
    text = serial.read_text(errors="replace") if serial.exists() else ""
    lines = console_lines(text)
    if any(line.startswith("error") for line in lines):
        raise AssertionError(f"the guest reported an error:\n{text}")
    return lines if any(line.startswith("ready") for line in lines) else []


@pytest.mark.live
def test_the_linux_guest_gets_a_dhcp_lease_and_serves_http_and_echo(
    linux_guest: BuiltGuest, tmp_path: Path, capsys
):
    qemu_binary = require("qemu-system-x86_64")
    guest = linux_guest.guest
    http_port, echo_port = free_port(), free_port()
    token = uuid.uuid4().hex[:12]
    serial = tmp_path / "serial.log"
    argv = boot_argv(
        guest.kernel,
        guest.initrd,
        serial_path=serial,
        netdev_args=f"user,id=net0,hostfwd=tcp:127.0.0.1:{http_port}-:80,hostfwd=tcp:127.0.0.1:{echo_port}-:7",
        cmdline_extra=guest_cmdline(hostname="linux-test", token=token, echo_port=7),
        qemu=qemu_binary,
    )
    start = time.monotonic()
    qemu = Service("qemu", argv, env={}, cwd=tmp_path, log=tmp_path / "qemu.log")
    try:
        # Under TCG on a busy CI runner the boot takes several times what it takes here.
        try:
            lines = wait_for(
                lambda: _ready(qemu, serial), timeout=180, interval=0.1, what="the Linux guest to be ready"
            )
        except WaitTimeout as timeout:
            console = serial.read_text(errors="replace") if serial.exists() else "(nothing)"
            raise WaitTimeout(f"{timeout}; its console:\n{console}") from timeout
        boot_seconds = time.monotonic() - start
        lease = console_fields(next(line for line in lines if line.startswith("ip=")))
        assert lease["ip"] == "10.0.2.15/24"  # QEMU user networking's first lease
        assert (lease["gw"], lease["mac"]) == ("10.0.2.2", "52:54:00:12:34:56")

        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/", timeout=30) as response:
            page = response.read().decode()
        assert page.split() == ["STRATUS-GUEST", "hostname=linux-test", f"token={token}", "ip=10.0.2.15/24"]

        with socket.create_connection(("127.0.0.1", echo_port), timeout=30) as connection:
            connection.sendall(f"ping {token}\n".encode())
            echoed = b""
            while not echoed.endswith(b"\n"):
                chunk = connection.recv(256)
                assert chunk, f"the echo service closed the connection after {echoed!r}"
                echoed += chunk
        assert echoed == f"ping {token}\n".encode()
    finally:
        qemu.stop()
    uptime = console_fields(next(line for line in lines if line.startswith("ready")))["uptime"]
    with capsys.disabled():
        print(f"\nlinux guest ready {boot_seconds:.2f}s after QEMU started (guest uptime {uptime}s, TCG)")
