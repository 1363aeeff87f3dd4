"""Loaded before Django is set up (``-p tests.plugin``): the suite gets its own data dir and a real Redis."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_root = Path(tempfile.mkdtemp(prefix="stratus-tests-"))
os.environ["STRATUS_DATA_DIR"] = str(_root / "data")
os.environ.pop("DATABASE_URL", None)
if os.environ.get("STRATUS_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["STRATUS_TEST_DATABASE_URL"]
for _name in ("STRATUS_POLICY_FILE", "SECRET_KEY", "DEBUG"):
    os.environ.pop(_name, None)

import pytest  # noqa: E402

from tests.support.processes import RedisServer  # noqa: E402

_redis = RedisServer(_root / "redis")
os.environ["REDIS_URL"] = _redis.url

TEST_ROOT = _root


def _clean_up() -> None:
    _redis.stop()
    shutil.rmtree(_root, ignore_errors=True)


# Also when pytest stops before configuring (a usage error): Redis started on import.
atexit.register(_clean_up)


def pytest_unconfigure(config) -> None:
    _clean_up()


def _stratus_host_network() -> set[str]:
    """What of ours exists in this machine's own network namespace: bridges and taps named after
    Stratus, its nftables table, and dnsmasq processes serving one of its bridges."""
    found: set[str] = set()
    if shutil.which("ip"):
        for line in subprocess.run(
            ["ip", "-o", "link", "show"], capture_output=True, text=True
        ).stdout.splitlines():
            name = line.split(": ")[1].split("@")[0] if ": " in line else ""
            if name.startswith(("stbr-", "sttap-")):
                found.add(f"link {name}")
    if shutil.which("nft"):
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        found.update(f"nftables {t}" for t in tables.splitlines() if t.strip() == "table inet stratus")
    here = os.stat("/proc/self/ns/net").st_ino
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                namespace = os.stat(entry / "ns" / "net").st_ino
            except OSError:  # the process ended while we looked
                continue
            if namespace != here:  # a test's own namespace (or another session's): not this host's
                continue
            if (
                argv
                and argv[0].endswith(b"dnsmasq")
                and any(a.startswith(b"--interface=stbr-") for a in argv)
            ):
                found.add(f"dnsmasq {entry.name}")
    return found


def pytest_sessionstart(session) -> None:
    session.config.stash[_HOST_NETWORK] = _stratus_host_network()


def pytest_sessionfinish(session, exitstatus) -> None:
    """The suite tests host networking in throwaway namespaces: it must leave nothing of ours on
    the machine's own network (a `make run` of the developer's may have things there already)."""
    left = _stratus_host_network() - session.config.stash.get(_HOST_NETWORK, set())
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            what = ", ".join(sorted(left))
            reporter.write_sep("=", f"the suite left host networking behind: {what}", red=True)
        session.exitstatus = 1


_HOST_NETWORK = pytest.StashKey[set]()
