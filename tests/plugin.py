"""Loaded before Django is set up (``-p tests.plugin``): the suite gets its own data dir, a real Redis
and, on a PostgreSQL run, a private PostgreSQL cluster."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer, create_database, is_postgresql, private_cluster
from tests.support.processes import RedisServer

_root = Path(tempfile.mkdtemp(prefix="stratus-tests-"))
TEST_ROOT = _root
os.environ["STRATUS_DATA_DIR"] = str(_root / "data")
os.environ.pop("DATABASE_URL", None)
for _name in ("STRATUS_POLICY_FILE", "SECRET_KEY", "DEBUG"):
    os.environ.pop(_name, None)

_redis: RedisServer | None = None
_postgres: PostgresServer | None = None


def _clean_up() -> None:
    if _redis is not None:
        _redis.stop()
    if _postgres is not None:
        _postgres.stop()
    shutil.rmtree(_root, ignore_errors=True)


# Also when pytest stops before configuring (a usage error): Redis and PostgreSQL start on import.
atexit.register(_clean_up)

_redis = RedisServer(_root / "redis")
os.environ["REDIS_URL"] = _redis.url

# The database backend of this run: STRATUS_TEST_DATABASE=sqlite or postgresql. PostgreSQL is a private
# cluster started here like Redis, unless STRATUS_TEST_DATABASE_URL names a server of one's own (its
# user may create databases; alone, it also chooses PostgreSQL). Live stacks use the same backend.
_own_server = os.environ.get("STRATUS_TEST_DATABASE_URL", "")
DATABASE = os.environ.get("STRATUS_TEST_DATABASE") or ("postgresql" if _own_server else "sqlite")
if DATABASE == "postgresql":
    if _own_server and not is_postgresql(_own_server):
        raise RuntimeError("STRATUS_TEST_DATABASE_URL must name a PostgreSQL server.")
    if not _own_server:
        _postgres = private_cluster()
        os.environ["STRATUS_TEST_DATABASE_URL"] = create_database(_postgres.url, "stratus")
    os.environ["DATABASE_URL"] = os.environ["STRATUS_TEST_DATABASE_URL"]
elif DATABASE == "sqlite":
    os.environ.pop("STRATUS_TEST_DATABASE_URL", None)
else:
    raise RuntimeError(f"STRATUS_TEST_DATABASE must be sqlite or postgresql, not {DATABASE!r}.")


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


# What makes a test touch the database: pytest-django's marker and fixtures, and the fixtures that
# start processes on a database of their own (`live_stack`, `stack_database`). A PostgreSQL run
# of `make test` selects these tests (`-m database`); the others do not depend on the backend.
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
        "django_db_setup",
        "live_stack",
        "stack_database",
    }
)


def touches_database(item: pytest.Item) -> bool:
    if item.get_closest_marker("django_db") is not None:
        return True
    return not DATABASE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Mark every test that touches the database ``database``, before ``-m`` selects by marker."""
    for item in items:
        if touches_database(item):
            item.add_marker(pytest.mark.database)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    # Read by LiveStack, which refuses to start for a test not marked as touching the database: on
    # a PostgreSQL run such a test would not run at all.
    os.environ["STRATUS_TEST_TOUCHES_DATABASE"] = "1" if touches_database(item) else "0"


def pytest_report_header(config) -> str:
    where = os.environ.get("DATABASE_URL", "a file in each data dir")
    return f"database: {DATABASE} ({where})"


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
