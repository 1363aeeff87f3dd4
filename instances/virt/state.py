"""Per-instance state dirs (``<state>/instances/<uuid>/``) and facts about the host."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
from collections.abc import Iterator
from pathlib import Path

from instances.virt.base import GuestNotFound, GuestSpec, VirtError

KVM_GET_API_VERSION = 0xAE00
KVM_API_VERSION = 12


class StateDirs:
    """Where a driver keeps its guests. Files are written atomically (temp file + rename) so a
    crash never leaves a half-written spec behind."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.instances = self.root / "instances"
        self.instances.mkdir(parents=True, exist_ok=True)

    def dir(self, uuid: str) -> Path:
        path = self.instances / uuid
        # The uuid becomes a path component: refuse anything that could walk out of the tree.
        if path.parent != self.instances or uuid in ("", ".", ".."):
            raise VirtError(f"invalid instance uuid {uuid!r}")
        return path

    def exists(self, uuid: str) -> bool:
        return (self.dir(uuid) / "spec.json").is_file()

    def uuids(self) -> list[str]:
        return sorted(p.parent.name for p in self.instances.glob("*/spec.json"))

    def save_spec(self, spec: GuestSpec) -> None:
        directory = self.dir(spec.uuid)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(directory / "spec.json", json.dumps(spec.to_dict(), indent=2).encode())

    def load_spec(self, uuid: str) -> GuestSpec:
        try:
            data = json.loads((self.dir(uuid) / "spec.json").read_text())
        except FileNotFoundError as exc:
            raise GuestNotFound(f"no guest {uuid} on this host") from exc
        return GuestSpec.from_dict(data)

    @contextlib.contextmanager
    def lock(self, uuid: str) -> Iterator[None]:
        """Serialise actions on one guest across threads and processes (flock is per open file)."""
        path = self.instances / f".{uuid}.lock"
        self.dir(uuid)  # validates the uuid
        with open(path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def remove(self, uuid: str) -> None:
        shutil.rmtree(self.dir(uuid), ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (self.instances / f".{uuid}.lock").unlink()


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def file_chunks(path: Path, size: int) -> Iterator[bytes]:
    """The bytes of ``path`` up to its end when read, ``size`` at a time; none if it is missing."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below, once the generator runs
    except FileNotFoundError:
        return
    with fh:
        while chunk := fh.read(size):
            yield chunk


def tail(text: str, lines: int | None) -> str:
    """The last ``lines`` pieces of ``text`` split at newlines, as Nova's console output tail does:
    the empty piece after a final newline counts as one, so ``length=3`` gives three lines."""
    if lines is None:
        return text
    if lines <= 0:
        return ""
    return "\n".join(text.split("\n")[-lines:])


def kvm_usable(device: str = "/dev/kvm") -> bool:
    """True when /dev/kvm can really be opened and answers the KVM API version call; its mere
    existence proves nothing (no permission, nested virtualisation switched off)."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION) == KVM_API_VERSION
    except OSError:
        return False
    finally:
        os.close(fd)


def host_arch() -> str:
    machine = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)


def host_memory_mb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise VirtError("MemTotal missing from /proc/meminfo")


def disk_gb(path: Path) -> int:
    return shutil.disk_usage(path).total // (1024**3)
