"""Guests as detached ``qemu-system-<arch>`` processes, driven over QMP.

Each guest lives in ``<state>/instances/<uuid>/``: spec.json (what it was started with),
console.log (serial port, appended across boots), qmp.sock, vnc.sock, pid, OVMF_VARS.fd for
UEFI guests and memory.state while suspended. QEMU daemonizes (its own session), so guests
outlive the worker that started them; a new driver finds them through the pidfile, trusting a
pid only if /proc/<pid>/cmdline is a QEMU started with this guest's ``-uuid``.

The machine is q35 (or pc, when the image asks for it) with its devices laid out by devices.py:
a disk keeps its slot across hot-plug, restart and suspend/resume.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from instances.virt import disks, live_migration, vnc
from instances.virt.argv import qemu_argv
from instances.virt.base import (
    Capabilities,
    DiskSpec,
    GuestSpec,
    IncomingEndpoint,
    PowerState,
    VirtDriver,
    VirtError,
)
from instances.virt.devices import GUEST_AGENT_SOCKET, disk_options
from instances.virt.migration import restore_memory, save_memory
from instances.virt.probe import kvm_probe
from instances.virt.qmp import QMPClient, QMPError
from instances.virt.state import (
    StateDirs,
    disk_gb,
    file_chunks,
    host_arch,
    host_memory_mb,
    kvm_usable,
    tail,
)

log = logging.getLogger(__name__)

QMP_STATES = {
    "running": PowerState.RUNNING,
    "paused": PowerState.PAUSED,
    "suspended": PowerState.PAUSED,  # guest-initiated S3 sleep: vCPUs stopped, process alive
    "shutdown": PowerState.SHUTDOWN,
    "internal-error": PowerState.CRASHED,
    "guest-panicked": PowerState.CRASHED,
    "io-error": PowerState.PAUSED,
    # Live migration: the destination waiting for the guest, the source once it has left.
    "inmigrate": PowerState.PAUSED,
    "postmigrate": PowerState.PAUSED,
}
START_TIMEOUT = 60.0
KILL_TIMEOUT = 10.0


class QemuDriver(VirtDriver):
    name = "qemu"

    def __init__(
        self,
        state_dir: str | Path,
        *,
        binary: str | None = None,
        accel: str = "auto",
        ovmf_code: str = "/usr/share/OVMF/OVMF_CODE_4M.fd",
        ovmf_vars: str = "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ):
        if accel not in ("auto", "kvm", "tcg"):
            raise VirtError(f"accel {accel!r} must be auto, kvm or tcg")
        self.dirs = StateDirs(state_dir)
        self.accel_mode = accel
        self.ovmf_code, self.ovmf_vars = Path(ovmf_code), Path(ovmf_vars)
        self.binary_override = binary
        self._accel_choice: tuple[str, str] | None = None  # the last one logged
        self.binary(host_arch())  # fail now, not at the first spawn, on a host without QEMU

    # -- host ------------------------------------------------------------------------------------

    def binary(self, arch: str) -> str:
        name = self.binary_override or f"qemu-system-{arch}"
        path = shutil.which(name)
        if path is None:
            raise VirtError(f"`{name}` is not installed on this host (Debian: apt install qemu-system-x86)")
        return path

    def accel(self) -> str:
        """The accelerator guests get. KVM only once a probe guest has really run under it (see
        probe.py): a /dev/kvm that answers the API version call may still abort QEMU or crawl.
        The probe runs once per process and binary, so this is cheap after the first call."""
        if self.accel_mode == "tcg":
            return self._chose("tcg", "STRATUS_QEMU_ACCEL=tcg")
        if self.accel_mode == "auto" and not kvm_usable():
            return self._chose("tcg", "/dev/kvm cannot be opened or does not answer KVM_GET_API_VERSION")
        result = kvm_probe(self.binary(host_arch()))
        if result.works:
            return self._chose("kvm", result.reason)
        if self.accel_mode == "kvm":
            raise VirtError(f"KVM was required (STRATUS_QEMU_ACCEL=kvm) but does not work: {result.reason}")
        return self._chose("tcg", f"KVM does not work here: {result.reason}")

    def _chose(self, accel: str, reason: str) -> str:
        """Log the choice once per driver, not at every spawn."""
        if self._accel_choice != (accel, reason):
            self._accel_choice = (accel, reason)
            log.info("QEMU guests use %s: %s", accel, reason)
        return accel

    def capabilities(self) -> Capabilities:
        accel = self.accel()
        _, reason = self._accel_choice
        return Capabilities(
            hypervisor_type="kvm" if accel == "kvm" else "qemu",
            arch=host_arch(),
            uefi=self.ovmf_code.is_file() and self.ovmf_vars.is_file(),
            vcpus=os.cpu_count() or 1,
            memory_mb=host_memory_mb(),
            disk_gb=disk_gb(self.dirs.root),
            extra={"accel": accel, "accel_reason": reason, "binary": self.binary(host_arch())},
        )

    # -- processes -------------------------------------------------------------------------------

    def _file(self, uuid: str, name: str) -> Path:
        return self.dirs.dir(uuid) / name

    def _pid(self, uuid: str) -> int | None:
        """The guest's live QEMU pid, or None. A stale pidfile whose number was reused by another
        process must never make us signal that process."""
        try:
            pid = int(self._file(uuid, "pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        # A zombie has an empty cmdline, so an exited guest is never mistaken for a live one.
        return pid if _is_guest_cmdline(cmdline, uuid) else None

    def _qmp(self, uuid: str, timeout: float = 10.0) -> QMPClient:
        return QMPClient(self._file(uuid, "qmp.sock"), timeout=timeout)

    def _wait_gone(self, uuid: str, pid: int | None, timeout: float) -> bool:
        """Wait for a known guest pid to be fully gone. Not the pidfile: QEMU removes it early in
        its exit, while it still holds the disk image locks."""
        deadline = time.monotonic() + timeout
        while pid is not None and not _exited(pid, uuid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def _kill(self, uuid: str, pid: int | None = None) -> None:
        """Stop the process: SIGTERM lets QEMU flush its disks, SIGKILL if it does not exit."""
        pid = pid or self._pid(uuid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if pid is None or _exited(pid, uuid):
                return
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            if self._wait_gone(uuid, pid, KILL_TIMEOUT):
                return
        raise VirtError(f"QEMU process of guest {uuid} did not exit after SIGKILL")

    def _start(self, spec: GuestSpec, incoming: bool = False, paused: bool = False) -> None:
        for disk in spec.disks:
            if not Path(disk.path).is_file():
                raise VirtError(f"disk {disk.target} of guest {spec.uuid} is missing: {disk.path}")
        if spec.cdrom and not Path(spec.cdrom).is_file():
            raise VirtError(f"the CD-ROM image of guest {spec.uuid} is missing: {spec.cdrom}")
        directory = self.dirs.dir(spec.uuid)
        if spec.firmware == "uefi":
            if not (self.ovmf_code.is_file() and self.ovmf_vars.is_file()):
                raise VirtError(f"UEFI needs OVMF ({self.ovmf_code}, {self.ovmf_vars}): apt install ovmf")
            vars_copy = directory / "OVMF_VARS.fd"
            if not vars_copy.exists():  # per instance, and kept across power cycles (boot entries)
                shutil.copyfile(self.ovmf_vars, vars_copy)
        for name in ("qmp.sock", "vnc.sock", GUEST_AGENT_SOCKET, "pid"):
            (directory / name).unlink(missing_ok=True)
        argv = qemu_argv(
            spec,
            binary=self.binary(spec.arch),
            accel=self.accel(),
            pidfile=directory / "pid",
            ovmf_code=self.ovmf_code if spec.firmware == "uefi" else None,
            incoming=incoming,
            paused=paused,
        )
        try:
            result = subprocess.run(
                argv, cwd=directory, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                timeout=START_TIMEOUT,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            self._kill(spec.uuid)
            raise VirtError(f"QEMU did not start guest {spec.uuid} within {START_TIMEOUT:.0f}s") from exc
        with open(directory / "qemu.log", "a") as fh:
            fh.write(f"$ {' '.join(argv)}\n{result.stderr}")
        if result.returncode != 0:
            raise VirtError(f"QEMU could not start guest {spec.uuid}: {result.stderr.strip()}")
        if self._pid(spec.uuid) is None:
            raise VirtError(
                f"QEMU started guest {spec.uuid} but its process is gone: {result.stderr.strip()}"
            )

    def _running_pid(self, uuid: str) -> int:
        pid = self._pid(uuid)
        if pid is None:
            self.dirs.load_spec(uuid)  # GuestNotFound for an unknown guest
            raise VirtError(f"guest {uuid} is not running")
        return pid

    def _status(self, uuid: str) -> str:
        with self._qmp(uuid) as qmp:
            return qmp.execute("query-status")["status"]

    # -- lifecycle -------------------------------------------------------------------------------

    def spawn(self, spec: GuestSpec) -> None:
        with self.dirs.lock(spec.uuid):
            if self._pid(spec.uuid) is not None:
                return
            if self._file(spec.uuid, "memory.state").exists():
                raise VirtError(f"guest {spec.uuid} is suspended; resume it instead")
            self.dirs.save_spec(spec)
            self._start(spec)

    def destroy(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            self._kill(uuid)
            self.dirs.remove(uuid)

    def power_off(self, uuid: str, timeout: float = 60.0) -> None:
        with self.dirs.lock(uuid):
            self._power_off(uuid, timeout)

    def _power_off(self, uuid: str, timeout: float) -> None:
        pid = self._pid(uuid)
        if pid is None:
            return
        try:
            with self._qmp(uuid) as qmp:
                # A paused guest cannot act on an ACPI event, so it is stopped at once.
                if qmp.execute("query-status")["status"] == "running" and timeout > 0:
                    qmp.execute("system_powerdown")
                else:
                    timeout = 0
        except VirtError as exc:
            log.warning("guest %s: no clean power-down (%s), stopping it", uuid, exc)
            timeout = 0
        if not self._wait_gone(uuid, pid, timeout):
            log.info("guest %s ignored the ACPI power-down for %.0fs, stopping it", uuid, timeout)
        self._kill(uuid, pid)

    def power_on(self, spec: GuestSpec) -> None:
        with self.dirs.lock(spec.uuid):
            if self._pid(spec.uuid) is not None:
                return
            self.dirs.load_spec(spec.uuid)  # GuestNotFound: power_on is for a spawned guest
            if self._file(spec.uuid, "memory.state").exists():
                raise VirtError(f"guest {spec.uuid} is suspended; resume it instead")
            self.dirs.save_spec(spec)
            self._start(spec)

    def reboot(self, uuid: str, hard: bool = False, timeout: float = 60.0) -> None:
        with self.dirs.lock(uuid):
            spec = self.dirs.load_spec(uuid)
            pid = self._pid(uuid)
            if pid is None:
                if not hard:
                    raise VirtError(f"guest {uuid} is not running")
                if self._file(uuid, "memory.state").exists():
                    raise VirtError(f"guest {uuid} is suspended; resume it instead")
                self._start(spec)
                return
            if not hard:
                with self._qmp(uuid) as qmp:
                    if qmp.execute("query-status")["status"] == "running":
                        qmp.execute("system_powerdown")
                if self._wait_gone(uuid, pid, timeout):
                    self._start(spec)
                    return
                # As Nova does: a guest that ignores the request gets a hard reboot.
                log.info("guest %s ignored the soft reboot for %.0fs, resetting it", uuid, timeout)
                if _exited(pid, uuid):  # it went down just as the wait ended
                    self._start(spec)
                    return
            with self._qmp(uuid) as qmp:
                qmp.execute("system_reset")
                if qmp.execute("query-status")["status"] == "paused":
                    qmp.execute("cont")

    def pause(self, uuid: str) -> None:
        self._expect_and_run(uuid, "running", "stop")

    def unpause(self, uuid: str) -> None:
        self._expect_and_run(uuid, "paused", "cont")

    def _expect_and_run(self, uuid: str, expected: str, command: str) -> None:
        with self.dirs.lock(uuid):
            self._running_pid(uuid)
            with self._qmp(uuid) as qmp:
                status = qmp.execute("query-status")["status"]
                if status != expected:
                    raise VirtError(f"guest {uuid} is {status}, expected {expected}")
                qmp.execute(command)

    def console_output(self, uuid: str, tail_lines: int | None = None) -> str:
        self.dirs.load_spec(uuid)
        try:
            text = self._file(uuid, "console.log").read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        return tail(text, tail_lines)

    def console_log(self, uuid: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        self.dirs.load_spec(uuid)
        return file_chunks(self._file(uuid, "console.log"), chunk_size)

    def power_state(self, uuid: str) -> PowerState:
        if self._pid(uuid) is None:
            if not self.dirs.exists(uuid):
                return PowerState.NOSTATE
            if self._file(uuid, "memory.state").exists():
                return PowerState.SUSPENDED
            return PowerState.SHUTDOWN
        try:
            return QMP_STATES.get(self._status(uuid), PowerState.NOSTATE)
        except VirtError:
            # The process exited between the pid check and the query.
            return PowerState.SHUTDOWN if self._pid(uuid) is None else PowerState.NOSTATE

    def list_running(self) -> list[str]:
        return [uuid for uuid in self.dirs.uuids() if self._pid(uuid) is not None]

    def list_defined(self) -> list[str]:
        return self.dirs.uuids()

    def saved_spec(self, uuid: str) -> GuestSpec:
        return self.dirs.load_spec(uuid)

    def guest_agent_socket(self, uuid: str) -> Path:
        """The unix socket of the guest's org.qemu.guest_agent.0 channel (hw_qemu_guest_agent)."""
        return self._file(uuid, GUEST_AGENT_SOCKET)

    def vnc_socket_dir(self) -> Path:
        return self.dirs.instances

    def vnc_socket(self, uuid: str) -> Path:
        """The guest's VNC unix socket (for a console proxy); may be longer than sun_path allows,
        so connect with vnc.connect_unix, through the directory's file descriptor."""
        return vnc.socket_path(self.dirs.instances, uuid)

    # -- memory state, snapshots, disks ----------------------------------------------------------

    def suspend(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            self._running_pid(uuid)
            save_memory(self, uuid)

    def resume(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            if self._pid(uuid) is not None:
                raise VirtError(f"guest {uuid} is running, not suspended")
            if not self._file(uuid, "memory.state").exists():
                self.dirs.load_spec(uuid)
                raise VirtError(f"guest {uuid} is not suspended")
            restore_memory(self, uuid)

    def snapshot(self, uuid: str, target_path: str | Path) -> Path:
        with self.dirs.lock(uuid):
            root = self.dirs.load_spec(uuid).disk("vda")
            if root is None:
                raise VirtError(f"guest {uuid} has no root disk vda")
            if self._pid(uuid) is None:
                return disks.convert(root.path, root.format, target_path, "qcow2")
            with self._qmp(uuid) as qmp:
                # Stopping the vCPUs flushes QEMU's caches to the file, so the copy is consistent.
                was_running = qmp.execute("query-status")["status"] == "running"
                if was_running:
                    qmp.execute("stop")
                try:
                    return disks.convert(root.path, root.format, target_path, "qcow2", in_use=True)
                finally:
                    if was_running:
                        qmp.execute("cont")

    def attach_disk(self, uuid: str, disk: DiskSpec) -> None:
        with self.dirs.lock(uuid):
            spec = self.dirs.load_spec(uuid)
            if spec.disk(disk.target):
                raise VirtError(f"guest {uuid} already has a disk {disk.target}")
            if not Path(disk.path).is_file():
                raise VirtError(f"disk {disk.path} does not exist")
            if self._file(uuid, "memory.state").exists():
                raise VirtError(f"guest {uuid} is suspended; resume it before attaching a disk")
            if self._pid(uuid) is not None:
                spec.check_hotplug()
                with self._qmp(uuid) as qmp:
                    added: list[str] = []
                    try:
                        for option, value in disk_options(spec, disk, boot=False):
                            if option == "-blockdev":
                                qmp.execute("blockdev-add", **value)
                                added.append(value["node-name"])
                            else:
                                qmp.execute("device_add", **value)
                    except VirtError:
                        for node in reversed(added):
                            qmp.execute("blockdev-del", **{"node-name": node})
                        raise
            self.dirs.save_spec(spec.with_disks([*spec.disks, disk]))

    def detach_disk(self, uuid: str, target: str, timeout: float = 30.0) -> None:
        with self.dirs.lock(uuid):
            spec = self.dirs.load_spec(uuid)
            if spec.disk(target) is None:
                raise VirtError(f"guest {uuid} has no disk {target}")
            if target == "vda":
                raise VirtError("the root disk vda cannot be detached")
            if self._file(uuid, "memory.state").exists():
                raise VirtError(f"guest {uuid} is suspended; resume it before detaching a disk")
            if self._pid(uuid) is not None:
                spec.check_hotplug()
                with self._qmp(uuid) as qmp:
                    qmp.execute("device_del", id=f"dev-{target}")
                    # The guest may take its time to let go of the device (or refuse).
                    deadline = time.monotonic() + timeout
                    while f"dev-{target}" in _peripherals(qmp):
                        if time.monotonic() >= deadline:
                            raise VirtError(f"guest {uuid} did not release {target} within {timeout:.0f}s")
                        qmp.wait_event("DEVICE_DELETED", 0.2)
                    # The device lets go of its block node just after it leaves the tree.
                    for node in (f"fmt-{target}", f"file-{target}"):
                        while node in _block_nodes(qmp):
                            try:
                                qmp.execute("blockdev-del", **{"node-name": node})
                            except QMPError:
                                if time.monotonic() >= deadline:
                                    raise
                                qmp.wait_event("DEVICE_DELETED", 0.05)
            self.dirs.save_spec(spec.with_disks([d for d in spec.disks if d.target != target]))

    # -- live migration (live_migration.py) -------------------------------------------------------

    def prepare_incoming(
        self, spec: GuestSpec, address: str, shared: tuple[str, ...] = ()
    ) -> IncomingEndpoint:
        with self.dirs.lock(spec.uuid):
            return live_migration.prepare_incoming(self, spec, address, shared)

    def migrate_to(
        self,
        uuid: str,
        endpoint: IncomingEndpoint,
        timeout: float = live_migration.TIMEOUT,
        shared: tuple[str, ...] = (),
    ) -> dict:
        with self.dirs.lock(uuid):
            return live_migration.migrate_to(self, uuid, endpoint, timeout, shared)

    def finish_incoming(self, uuid: str, running: bool = True, console_before: str = "") -> None:
        with self.dirs.lock(uuid):
            live_migration.finish_incoming(self, uuid, running, console_before)

    def has_left(self, uuid: str) -> bool:
        return self._pid(uuid) is not None and self._status(uuid) == "postmigrate"

    def resume_source(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            live_migration.resume_source(self, uuid)


def _is_guest_cmdline(cmdline: bytes, uuid: str) -> bool:
    args = cmdline.split(b"\0")
    return b"-uuid" in args[:-1] and args[args.index(b"-uuid") + 1] == uuid.encode()


def _exited(pid: int, uuid: str) -> bool:
    """True once the guest's process has released everything: gone, a zombie, or the pid now
    belongs to another program. An exiting process has an empty cmdline but still holds files."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
        return True
    return bool(cmdline) and not _is_guest_cmdline(cmdline, uuid)


def _block_nodes(qmp: QMPClient) -> set[str]:
    return {node["node-name"] for node in qmp.execute("query-named-block-nodes", flat=True)}


def _peripherals(qmp: QMPClient) -> set[str]:
    return {item["name"] for item in qmp.execute("qom-list", path="/machine/peripheral")}
