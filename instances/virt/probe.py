"""Which accelerator really works on this host, found by booting a tiny guest rather than assumed.

An openable /dev/kvm that answers KVM_GET_API_VERSION proves little: under some nested setups
QEMU aborts at the first vCPU start (``failed to set MSR 0x10a``), under others a guest starts
but every VM exit is so slow that a Linux kernel crawls where TCG boots it in seconds. So the
probe starts QEMU with the machine and CPU options real guests get, on a boot sector
(bootsector.py) that prints a start marker, does a fixed number of port writes (each a VM exit
under KVM), prints an end marker and halts. KVM counts only if the end marker appears within a
deadline; a QEMU that exits, or a guest that is too slow, means TCG.

Booting a guest takes up to the deadline, so ``kvm_probe()`` keeps one answer per QEMU binary
for the life of the process: the driver asks at every spawn and for its capabilities.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from instances.virt.argv import qemu_argv
from instances.virt.base import GuestSpec
from instances.virt.bootsector import build_boot_image

log = logging.getLogger(__name__)

START_MARKER = "STRATUS-ACCEL-PROBE START"
END_MARKER = "STRATUS-ACCEL-PROBE END"
# A healthy KVM (nested included) does these in well under a second; one whose exits crawl
# takes many seconds, and TCG does them in milliseconds.
PORT_WRITES = 30000
DEADLINE = 5.0  # seconds from the QEMU start to the end marker, firmware included
POLL_INTERVAL = 0.02
KILL_TIMEOUT = 10.0
MEMORY_MB = 32
PROBE_UUID = "00000000-0000-4000-8000-000000000000"  # only to build a real guest's argv


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe boot: whether ``accel`` ran the guest to its end marker in time,
    and why not (QEMU's error text, or "too slow ...") so that the log and errors can say it."""

    accel: str
    works: bool
    reason: str
    seconds: float


def guest_machine_options(binary: str, accel: str) -> list[str]:
    """The ``-machine`` and ``-cpu`` options of a real guest under ``accel``, taken from the
    guests' own argv builder so that the probe cannot drift from what guests get."""
    spec = GuestSpec(uuid=PROBE_UUID, name="accel-probe", vcpus=1, memory_mb=MEMORY_MB)
    argv = qemu_argv(spec, binary=binary, accel=accel, pidfile=Path("pid"), ovmf_code=None, incoming=False)
    options: list[str] = []
    for option, value in zip(argv, argv[1:], strict=False):
        if option in ("-machine", "-cpu"):
            options += [option, value]
    return options


def probe_argv(binary: str, accel: str, image: Path, console: Path) -> list[str]:
    """QEMU running the probe image with the serial port to ``console``; nothing else attached."""
    file_node = {"driver": "file", "node-name": "probe-file", "filename": str(image), "read-only": True}
    raw_node = {"driver": "raw", "node-name": "probe", "file": "probe-file", "read-only": True}
    device = {"driver": "virtio-blk-pci", "id": "probe-disk", "drive": "probe", "bootindex": 1}
    return [
        binary, "-name", "stratus-accel-probe",
        *guest_machine_options(binary, accel),
        "-m", str(MEMORY_MB), "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-chardev", f"file,id=serial0,path={str(console).replace(',', ',,')}",
        "-serial", "chardev:serial0",
        "-blockdev", json.dumps(file_node), "-blockdev", json.dumps(raw_node),
        "-device", json.dumps(device),
    ]  # fmt: skip


def probe(
    binary: str,
    *,
    accel: str = "kvm",
    deadline: float = DEADLINE,
    port_writes: int = PORT_WRITES,
    workdir: Path | None = None,
) -> ProbeResult:
    """Boot the probe guest under ``accel`` and report whether it finished within ``deadline``
    seconds. Never raises for a QEMU that fails: that is an answer, not an error. ``workdir``
    keeps the image, console and QEMU log (default: a temporary directory, removed after)."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        return _probe_in(workdir, binary, accel, deadline, port_writes)
    with tempfile.TemporaryDirectory(prefix="stratus-accel-probe-") as directory:
        return _probe_in(Path(directory), binary, accel, deadline, port_writes)


def _probe_in(directory: Path, binary: str, accel: str, deadline: float, port_writes: int) -> ProbeResult:
    image = build_boot_image(
        directory / "probe.raw", START_MARKER, port_writes=port_writes, end_marker=END_MARKER
    )
    console, stderr_path = directory / "console.log", directory / "qemu.log"
    argv = probe_argv(binary, accel, image, console)
    started = time.monotonic()
    with open(stderr_path, "wb") as stderr:
        try:
            process = subprocess.Popen(
                argv, cwd=directory, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        except OSError as exc:
            return ProbeResult(accel, False, f"{binary} could not be run: {exc}", 0.0)
        try:
            return _watch(process, console, stderr_path, accel, started, deadline, port_writes)
        finally:
            _stop(process)


def _watch(
    process: subprocess.Popen,
    console: Path,
    stderr_path: Path,
    accel: str,
    started: float,
    deadline: float,
    port_writes: int,
) -> ProbeResult:
    """Poll the console until the end marker, QEMU's exit or the deadline, whichever is first."""
    while True:
        output = _read(console)
        elapsed = time.monotonic() - started
        if END_MARKER in output:
            reason = f"the probe guest did {port_writes} port writes and halted in {elapsed:.2f}s"
            return ProbeResult(accel, True, reason, elapsed)
        code = process.poll()
        if code is not None:
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
            error = _read(stderr_path).strip() or "no error message"
            return ProbeResult(accel, False, f"QEMU {how}: {error}", elapsed)
        if elapsed >= deadline:
            where = "" if START_MARKER in output else " (it did not even reach its boot sector)"
            reason = f"too slow: the probe guest did not do {port_writes} port writes in {deadline:g}s{where}"
            return ProbeResult(accel, False, reason, elapsed)
        time.sleep(POLL_INTERVAL)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:  # QEMU has not created it yet
        return ""


def _stop(process: subprocess.Popen) -> None:
    """SIGKILL at once: the probe has nothing to flush (its disk is read-only)."""
    process.kill()  # a no-op once it has exited and been reaped
    try:
        process.wait(KILL_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.error("the accelerator probe's QEMU (pid %d) did not exit after SIGKILL", process.pid)


_results: dict[str, ProbeResult] = {}
_results_lock = threading.Lock()


def kvm_probe(binary: str) -> ProbeResult:
    """The KVM probe's answer for ``binary``, run at most once per process: the lock makes
    concurrent first callers (agent threads) wait for one probe instead of booting several."""
    with _results_lock:
        result = _results.get(binary)
        if result is None:
            result = _results[binary] = probe(binary)
            if result.works:
                log.info("KVM works with %s: %s", binary, result.reason)
            else:
                log.warning("KVM does not work with %s: %s", binary, result.reason)
        return result
