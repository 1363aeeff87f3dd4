"""A driver without processes: guests are records in the state dir.

For tests that do not need a VM and for hosts without QEMU; chosen only by setting
(STRATUS_VIRT_DRIVER=fake). It keeps the same rules as the QEMU driver (which actions are valid
in which state), so code tested against it behaves the same on a real host.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from instances.virt import disks
from instances.virt.base import (
    Capabilities,
    DiskSpec,
    GuestNotFound,
    GuestSpec,
    IncomingEndpoint,
    PowerState,
    VirtDriver,
    VirtError,
)
from instances.virt.state import (
    StateDirs,
    disk_gb,
    file_chunks,
    host_arch,
    host_memory_mb,
    tail,
    write_atomic,
)


class FakeDriver(VirtDriver):
    name = "fake"

    def __init__(self, state_dir: str | Path):
        self.dirs = StateDirs(state_dir)

    # -- records -------------------------------------------------------------------------------

    def _state_file(self, uuid: str) -> Path:
        return self.dirs.dir(uuid) / "power.json"

    def _get(self, uuid: str) -> PowerState:
        if not self.dirs.exists(uuid):
            raise GuestNotFound(f"no guest {uuid} on this host")
        return PowerState(json.loads(self._state_file(uuid).read_text())["state"])

    def _set(self, uuid: str, state: PowerState) -> None:
        write_atomic(self._state_file(uuid), json.dumps({"state": state.value}).encode())

    def _boot(self, spec: GuestSpec) -> None:
        for disk in spec.disks:
            if not Path(disk.path).exists():
                raise VirtError(f"disk {disk.target} is missing: {disk.path}")
        if spec.cdrom and not Path(spec.cdrom).exists():
            raise VirtError(f"the CD-ROM image is missing: {spec.cdrom}")
        with open(self.dirs.dir(spec.uuid) / "console.log", "a") as fh:
            fh.write(f"fake guest {spec.uuid} ({spec.name}) booted\n")
        self._set(spec.uuid, PowerState.RUNNING)

    def _expect(self, uuid: str, *allowed: PowerState) -> PowerState:
        state = self._get(uuid)
        if state not in allowed:
            raise VirtError(
                f"guest {uuid} is {state.value}, expected {' or '.join(s.value for s in allowed)}"
            )
        return state

    # -- interface -----------------------------------------------------------------------------

    def spawn(self, spec: GuestSpec) -> None:
        with self.dirs.lock(spec.uuid):
            if self.dirs.exists(spec.uuid) and self._get(spec.uuid) in (
                PowerState.RUNNING,
                PowerState.PAUSED,
            ):
                return
            self.dirs.save_spec(spec)
            self._boot(spec)

    def destroy(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            self.dirs.remove(uuid)

    def power_off(self, uuid: str, timeout: float = 60.0) -> None:
        with self.dirs.lock(uuid):
            if self._get(uuid) in (PowerState.SHUTDOWN, PowerState.CRASHED):
                return
            self._expect(uuid, PowerState.RUNNING, PowerState.PAUSED)
            self._set(uuid, PowerState.SHUTDOWN)

    def power_on(self, spec: GuestSpec) -> None:
        with self.dirs.lock(spec.uuid):
            if self._expect(spec.uuid, PowerState.SHUTDOWN, PowerState.CRASHED, PowerState.RUNNING) == (
                PowerState.RUNNING
            ):
                return
            self.dirs.save_spec(spec)
            self._boot(spec)

    def reboot(self, uuid: str, hard: bool = False, timeout: float = 60.0) -> None:
        with self.dirs.lock(uuid):
            self._expect(uuid, PowerState.RUNNING, PowerState.PAUSED, PowerState.SHUTDOWN, PowerState.CRASHED)
            self._boot(self.dirs.load_spec(uuid))

    def pause(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            self._expect(uuid, PowerState.RUNNING)
            self._set(uuid, PowerState.PAUSED)

    def unpause(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            self._expect(uuid, PowerState.PAUSED)
            self._set(uuid, PowerState.RUNNING)

    def suspend(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            self._expect(uuid, PowerState.RUNNING, PowerState.PAUSED)
            write_atomic(self.dirs.dir(uuid) / "memory.state", b"fake memory state\n")
            self._set(uuid, PowerState.SUSPENDED)

    def resume(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            self._expect(uuid, PowerState.SUSPENDED)
            os.unlink(self.dirs.dir(uuid) / "memory.state")
            self._set(uuid, PowerState.RUNNING)

    # -- live migration: no memory or disks move; the states change as the QEMU driver's do ---------

    def prepare_incoming(
        self, spec: GuestSpec, address: str, shared: tuple[str, ...] = ()
    ) -> IncomingEndpoint:
        with self.dirs.lock(spec.uuid):
            for disk in spec.disks:
                if not Path(disk.path).exists():
                    raise VirtError(f"disk {disk.target} is missing: {disk.path}")
            self.dirs.save_spec(spec)
            self._set(spec.uuid, PowerState.PAUSED)
            write_atomic(self.dirs.dir(spec.uuid) / "incoming", b"")
            ordered = sorted(spec.disks, key=lambda d: d.target)
            exports = tuple(d.target for d in ordered if not d.readonly and d.target not in shared)
            return IncomingEndpoint(address, 10809, 49152, exports)

    def migrate_to(
        self, uuid: str, endpoint: IncomingEndpoint, timeout: float = 600.0, shared: tuple[str, ...] = ()
    ) -> dict:
        with self.dirs.lock(uuid):
            self._expect(uuid, PowerState.RUNNING, PowerState.PAUSED)
            write_atomic(self.dirs.dir(uuid) / "left", self._get(uuid).value.encode())
            self._set(uuid, PowerState.PAUSED)
            return {}

    def has_left(self, uuid: str) -> bool:
        return (self.dirs.dir(uuid) / "left").exists()

    def finish_incoming(self, uuid: str, running: bool = True, console_before: str = "") -> None:
        with self.dirs.lock(uuid):
            marker = self.dirs.dir(uuid) / "incoming"
            if not marker.exists():
                raise VirtError(f"guest {uuid} is not waiting for a migration")
            with open(self.dirs.dir(uuid) / "console.log", "a") as fh:
                fh.write(console_before)
            marker.unlink()
            self._set(uuid, PowerState.RUNNING if running else PowerState.PAUSED)

    def resume_source(self, uuid: str) -> None:
        with self.dirs.lock(uuid):
            left = self.dirs.dir(uuid) / "left"
            if left.exists():
                self._set(uuid, PowerState(left.read_text()))
                left.unlink()

    def snapshot(self, uuid: str, target_path: str | Path) -> Path:
        with self.dirs.lock(uuid):
            self._get(uuid)
            root = self.dirs.load_spec(uuid).disk("vda")
            if root is None:
                raise VirtError(f"guest {uuid} has no root disk vda")
            return disks.convert(root.path, root.format, target_path, "qcow2", in_use=True)

    def console_output(self, uuid: str, tail_lines: int | None = None) -> str:
        self._get(uuid)
        return tail((self.dirs.dir(uuid) / "console.log").read_text(errors="replace"), tail_lines)

    def console_log(self, uuid: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        self._get(uuid)
        return file_chunks(self.dirs.dir(uuid) / "console.log", chunk_size)

    def attach_disk(self, uuid: str, disk: DiskSpec) -> None:
        with self.dirs.lock(uuid):
            self._get(uuid)
            spec = self.dirs.load_spec(uuid)
            if spec.disk(disk.target):
                raise VirtError(f"guest {uuid} already has a disk {disk.target}")
            if self._get(uuid) in (PowerState.RUNNING, PowerState.PAUSED):
                spec.check_hotplug()
            self.dirs.save_spec(spec.with_disks([*spec.disks, disk]))

    def detach_disk(self, uuid: str, target: str) -> None:
        with self.dirs.lock(uuid):
            self._get(uuid)
            spec = self.dirs.load_spec(uuid)
            if spec.disk(target) is None:
                raise VirtError(f"guest {uuid} has no disk {target}")
            if self._get(uuid) in (PowerState.RUNNING, PowerState.PAUSED):
                spec.check_hotplug()
            self.dirs.save_spec(spec.with_disks([d for d in spec.disks if d.target != target]))

    def power_state(self, uuid: str) -> PowerState:
        try:
            return self._get(uuid)
        except GuestNotFound:
            return PowerState.NOSTATE

    def list_running(self) -> list[str]:
        return [
            u for u in self.dirs.uuids() if self.power_state(u) in (PowerState.RUNNING, PowerState.PAUSED)
        ]

    def list_defined(self) -> list[str]:
        return self.dirs.uuids()

    def saved_spec(self, uuid: str) -> GuestSpec:
        return self.dirs.load_spec(uuid)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            hypervisor_type="fake",
            arch=host_arch(),
            uefi=True,
            vcpus=os.cpu_count() or 1,
            memory_mb=host_memory_mb(),
            disk_gb=disk_gb(self.dirs.root),
        )
