"""A private PostgreSQL cluster for the suite: `initdb` in a temporary directory, reached only through a
unix socket there (no TCP port), gone with the directory."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg

from tests.support.wait import wait_for

SUPERUSER = "stratus"


def server_binary(name: str) -> str:
    """A PostgreSQL server program: on PATH, else the newest Debian `postgresql` package's."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parents[1].name.split(".")[0] or 0),
    )
    if not candidates:
        raise RuntimeError(
            f"The test suite needs the PostgreSQL server (`{name}`), which is not installed "
            "(.ci/run installs the Debian package `postgresql`)."
        )
    return candidates[-1]


def database_url(socket_dir: Path | str, name: str, user: str = SUPERUSER) -> str:
    """A DATABASE_URL for database ``name`` over the unix socket in ``socket_dir``."""
    return f"postgresql://{user}@{quote(str(socket_dir), safe='')}/{name}"


def is_postgresql(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("postgres", "postgresql", "pgsql")


def create_database(url: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` on the server that ``url`` names, empty or a copy of the database
    ``template`` (which nobody may be connected to); its URL."""
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{copy}')
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def drop_database(url: str) -> None:
    """Drop the database ``url`` names, ending its sessions (processes killed mid-transaction)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database_url(label: str, template: str | None = None) -> str | None:
    """For a separate stack (its own web server, workers, agents): a new database on the run's
    PostgreSQL server, empty or a copy of the database ``template`` names; or None on SQLite (each
    stack then has its own file in its data dir)."""
    base = os.environ.get("STRATUS_TEST_DATABASE_URL")
    if not is_postgresql(base):
        return None
    return create_database(
        base, f"{label}_{secrets.token_hex(4)}", database_name(template) if template else None
    )


class PostgresServer:
    """``initdb`` and ``postgres`` in ``directory`` (created here), listening on a unix socket only.
    PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user that the
    Debian package creates. Durability is off (fsync, synchronous commit): the data is thrown away."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        directory.mkdir(parents=True, exist_ok=True)
        self._user = self._run_as()
        if self._user is not None:
            os.chown(directory, self._user.pw_uid, self._user.pw_gid)
        directory.chmod(0o700)
        initdb = subprocess.run(
            [server_binary("initdb"), "--pgdata", str(self.data), "--username", SUPERUSER,
             "--auth", "trust", "--encoding", "UTF8", "--locale", "C.UTF-8", "--no-sync"],
            capture_output=True, text=True, **self._as_owner(),
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
        self._log_file = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        if self._user is not None:
            os.chown(self.log, self._user.pw_uid, self._user.pw_gid)
        self.proc = subprocess.Popen(
            [server_binary("postgres"), "-D", str(self.data), "-k", str(directory),
             "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=400", "-c", "shared_buffers=64MB"],
            stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True, **self._as_owner(),
        )  # fmt: skip
        self.url = database_url(directory, "postgres")
        wait_for(self._ready, timeout=60, what="PostgreSQL to accept connections")

    @staticmethod
    def _run_as() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(
                "PostgreSQL does not run as root, and there is no `postgres` user to run it as "
                "(the Debian package `postgresql` creates one)."
            ) from None

    def _as_owner(self) -> dict:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{self.log.read_text()}")
        if not (self.directory / ".s.PGSQL.5432").exists():
            return False
        ready = subprocess.run(
            [server_binary("pg_isready"), "-h", str(self.directory), "-U", SUPERUSER, "-q"],
            capture_output=True,
        )
        return ready.returncode == 0

    def stop(self) -> None:
        """A fast shutdown (sessions still open are ended), then the directory goes."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log_file.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def private_cluster() -> PostgresServer:
    """A cluster in a directory of its own (the postgres user must own it, so not under a root-only
    temporary directory)."""
    return PostgresServer(Path(tempfile.mkdtemp(prefix="stratus-pg-")))
