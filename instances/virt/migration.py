"""Suspend and resume of QEMU guests: the guest's memory saved to a file and loaded back.

QEMU 7.2 has no ``file:`` migration target, and ``exec:`` would need a shell command line, so
the file descriptor itself is handed to QEMU over the QMP socket (``getfd``) and the migration
stream goes to ``fd:<name>``. The state is written under a temp name and renamed when complete,
so a half-written file is never taken for a suspended guest.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from instances.virt.base import VirtError
from instances.virt.qmp import QMPClient

if TYPE_CHECKING:
    from instances.virt.qemu import QemuDriver

FD_NAME = "memory-state"
TIMEOUT = 600.0


def _poll(qmp: QMPClient, what: str, done: set[str], failed: set[str], query: str) -> str:
    deadline = time.monotonic() + TIMEOUT
    while True:
        status = (qmp.execute(query) or {}).get("status", "")
        if status in done:
            return status
        if status in failed:
            raise VirtError(f"{what} failed ({status})")
        if time.monotonic() >= deadline:
            raise VirtError(f"{what} did not finish within {TIMEOUT:.0f}s")
        time.sleep(0.02)


def save_memory(driver: QemuDriver, uuid: str) -> None:
    final = driver.dirs.dir(uuid) / "memory.state"
    partial = final.with_name(".memory.state.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    saved = False
    pid = driver._pid(uuid)
    try:
        with QMPClient(driver.dirs.dir(uuid) / "qmp.sock", timeout=30) as qmp:
            was_running = qmp.execute("query-status")["status"] == "running"
            qmp.execute("stop")
            qmp.execute("getfd", fds=[fd], fdname=FD_NAME)
            try:
                qmp.execute("migrate", uri=f"fd:{FD_NAME}")
                _poll(qmp, f"saving the memory of guest {uuid}", {"completed"}, {"failed", "cancelled"},
                      "query-migrate")  # fmt: skip
            except VirtError:
                if was_running:
                    qmp.execute("cont")
                raise
            os.fsync(fd)
            os.replace(partial, final)
            saved = True
            qmp.execute("quit")
    finally:
        os.close(fd)
        if not saved:
            partial.unlink(missing_ok=True)
    if not driver._wait_gone(uuid, pid, 30):
        driver._kill(uuid, pid)


def restore_memory(driver: QemuDriver, uuid: str) -> None:
    state = driver.dirs.dir(uuid) / "memory.state"
    driver._start(driver.dirs.load_spec(uuid), incoming=True)
    fd = os.open(state, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with QMPClient(driver.dirs.dir(uuid) / "qmp.sock", timeout=30) as qmp:
            qmp.execute("getfd", fds=[fd], fdname=FD_NAME)
            qmp.execute("migrate-incoming", uri=f"fd:{FD_NAME}")
            _poll(qmp, f"restoring the memory of guest {uuid}", {"completed"}, {"failed", "cancelled"},
                  "query-migrate")  # fmt: skip
            # The vCPUs were stopped when the state was saved, and that run state travels with it.
            if qmp.execute("query-status")["status"] != "running":
                qmp.execute("cont")
    except VirtError:
        driver._kill(uuid)  # the saved state stays, so resume can be tried again
        raise
    finally:
        os.close(fd)
    state.unlink()
