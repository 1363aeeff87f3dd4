"""The accelerator probe against real QEMU processes: a real boot under TCG, a QEMU that fails, a
guest that is too slow, and one probe per process however often the driver asks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from instances.virt.base import VirtError
from instances.virt.bootsector import MAX_PORT_WRITES, boot_sector
from instances.virt.probe import END_MARKER, START_MARKER, kvm_probe, probe
from instances.virt.qemu import QemuDriver
from instances.virt.state import kvm_usable
from tests.instances.virt.test_qemu_driver import live_processes_under
from tests.support.processes import require

QEMU = "qemu-system-x86_64"


def script(path: Path, body: str) -> Path:
    """A real executable standing in for QEMU."""
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def accel_or_error(driver: QemuDriver) -> str:
    try:
        return driver.accel()
    except VirtError as exc:
        return f"error: {exc}"


def test_the_probe_guest_runs_to_its_end_marker_under_tcg_and_its_qemu_is_gone(tmp_path):
    workdir = tmp_path / "probe"
    result = probe(require(QEMU), accel="tcg", workdir=workdir)
    assert result.works, result.reason
    assert result.accel == "tcg"
    assert "30000 port writes" in result.reason
    console = (workdir / "console.log").read_text()
    assert console.index(START_MARKER) < console.index(END_MARKER)
    assert live_processes_under(tmp_path) == []


def test_the_real_kvm_probe_answers_with_a_reason_and_its_qemu_is_gone(tmp_path):
    result = probe(require(QEMU), workdir=tmp_path / "probe")
    assert result.accel == "kvm"
    if not result.works:  # this host's KVM: QEMU aborted, or the guest crawled
        assert result.reason.startswith(("QEMU ", "too slow")), result.reason
    assert live_processes_under(tmp_path) == []


def test_a_qemu_that_exits_with_an_error_means_tcg_and_kvm_mode_names_its_error(tmp_path):
    message = "qemu: Could not access KVM kernel module: nope"
    failing = script(tmp_path / "qemu-fails", f"echo '{message}' >&2\nexit 1")
    result = probe(str(failing), workdir=tmp_path / "probe")
    assert not result.works
    assert result.reason == f"QEMU exited with status 1: {message}"
    assert QemuDriver(tmp_path / "auto", binary=str(failing), accel="auto").accel() == "tcg"
    assert QemuDriver(tmp_path / "auto", binary=str(failing)).capabilities().hypervisor_type == "qemu"
    with pytest.raises(VirtError, match=f"KVM was required .* exited with status 1: {message}"):
        QemuDriver(tmp_path / "kvm", binary=str(failing), accel="kvm").accel()


def test_a_guest_that_misses_the_deadline_is_too_slow_and_is_killed(tmp_path):
    result = probe(require(QEMU), accel="tcg", deadline=0, workdir=tmp_path / "probe")
    assert not result.works
    assert result.reason.startswith("too slow: the probe guest did not do 30000 port writes in 0s")
    assert live_processes_under(tmp_path) == []


def test_the_probe_runs_once_per_binary_however_often_drivers_ask(tmp_path, caplog):
    runs = tmp_path / "runs"
    wrapper = script(tmp_path / "qemu-counted", f'echo run >> "{runs}"\nexec "{require(QEMU)}" "$@"')
    caplog.set_level(logging.INFO, logger="instances.virt")
    driver = QemuDriver(tmp_path / "state", binary=str(wrapper), accel="kvm")
    first = accel_or_error(driver)
    assert accel_or_error(driver) == first
    assert accel_or_error(QemuDriver(tmp_path / "state", binary=str(wrapper), accel="kvm")) == first
    works = kvm_probe(str(wrapper)).works
    assert (first == "kvm") if works else first.startswith("error: KVM was required")
    auto = QemuDriver(tmp_path / "state", binary=str(wrapper), accel="auto")
    assert auto.accel() == ("kvm" if kvm_usable() and works else "tcg")
    assert runs.read_text() == "run\n"
    probe_logs = [r for r in caplog.records if r.name == "instances.virt.probe"]
    assert len(probe_logs) == 1
    assert probe_logs[0].levelno == (logging.INFO if works else logging.WARNING)


def test_the_boot_sector_refuses_what_it_cannot_hold():
    assert len(boot_sector("x", port_writes=MAX_PORT_WRITES, end_marker="y")) == 512
    with pytest.raises(ValueError, match="port_writes must be between 0 and 65535"):
        boot_sector("x", port_writes=MAX_PORT_WRITES + 1, end_marker="y")
    with pytest.raises(ValueError, match="need an end marker"):
        boot_sector("x", port_writes=1)
    with pytest.raises(ValueError, match="too long for a boot sector"):
        boot_sector("x" * 200, end_marker="y" * 200)
