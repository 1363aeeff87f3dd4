"""Real services for the tests: a Redis server, and the whole Stratus stack on a free port."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

import psycopg

from tests.support.postgres import drop_database, fresh_database_url
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(tool: str) -> str:
    path = shutil.which(tool) or (str(BIN / tool) if (BIN / tool).exists() else None)
    if path is None:
        raise RuntimeError(f"The test suite needs `{tool}`, which is not installed (.ci/run installs it).")
    return path


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class Service:
    """A child process with its output in a log file."""

    def __init__(self, name: str, argv: list[str], *, env: dict, cwd: Path, log: Path):
        self.name, self.log = name, log
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{_tail(self.log)}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a Celery worker and its pool children)."""
        if self.alive():
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._fh.close()


class RedisServer:
    def __init__(self, directory: Path, *, persistent: bool = False):
        directory.mkdir(parents=True, exist_ok=True)
        self.socket = directory / "redis.sock"
        argv = [
            require("redis-server"),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            # persistent: as `make run` configures it (dashboard/management/commands/serve.py)
            "yes" if persistent else "no",
            "--dir",
            str(directory),
        ]
        self.service = Service(
            "redis", argv, env=dict(os.environ), cwd=directory, log=directory / "redis.log"
        )
        wait_for(self._ready, timeout=20, what="redis-server to accept connections")

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _ready(self) -> bool:
        self.service.check()
        if not self.socket.exists():
            return False
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        self.service.stop()


ADMIN_PASSWORD = "admin-secret-pw"
DEMO_PASSWORD = "demo-secret-pw"


_template_lock = threading.Lock()
_template: dict[str, object] = {}


def _drop_template(url: str) -> None:
    """At exit, on a server of one's own (STRATUS_TEST_DATABASE_URL); the suite's private cluster may
    be gone already, and the database with it."""
    with contextlib.suppress(psycopg.OperationalError):
        drop_database(url)


def prepared_template() -> tuple[Path, str | None]:
    """A data dir, migrated and with its static files collected, made once per process: on SQLite its
    database file, on PostgreSQL a database of the run's server (its URL). Migrating anew for each
    stack cost 15-25 s a stack."""
    with _template_lock:
        if not _template:
            directory = Path(tempfile.mkdtemp(prefix="stratus-template-"))
            atexit.register(shutil.rmtree, directory, True)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "DATABASE_URL"))}
            env["STRATUS_DATA_DIR"] = str(directory / "data")
            url = fresh_database_url("template")
            if url:
                env["DATABASE_URL"] = url
                atexit.register(_drop_template, url)
            for args in (("migrate",), ("collectstatic", "--no-input")):
                result = subprocess.run(
                    [PYTHON, "manage.py", *args, "--verbosity", "0"],
                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                )  # fmt: skip
                if result.returncode != 0:
                    raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
            _template.update(data=directory / "data", url=url)
        return _template["data"], _template["url"]


class LiveStack:
    """Migrated database, bootstrap users, Redis, a Celery worker, gunicorn and the console proxy, as
    `make run` has them."""

    def __init__(self, root: Path, *, extra_env: dict | None = None, persistent_redis: bool = False):
        if os.environ.get("STRATUS_TEST_TOUCHES_DATABASE") == "0":
            raise RuntimeError(
                "A test that starts a LiveStack must ask for the `stack_database` fixture "
                "(tests/conftest.py), so that it runs on each database backend."
            )
        self.root = root
        self.persistent_redis = persistent_redis
        self.data_dir = root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.console_port = free_port()
        self.redis = RedisServer(root / "redis", persistent=persistent_redis)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "DATABASE_URL"))}
        env.update(
            STRATUS_DATA_DIR=str(self.data_dir),
            REDIS_URL=self.redis.url,
            PORT=str(self.port),
            STRATUS_WEB_PORT=str(self.port),
            STRATUS_CONSOLE_PROXY_PORT=str(self.console_port),
            STRATUS_ADMIN_PASSWORD=ADMIN_PASSWORD,
            STRATUS_DEMO_PASSWORD=DEMO_PASSWORD,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DEBUG="false",
            PYTHONUNBUFFERED="1",
            # The test guests ignore ACPI power-down: do not wait Nova's 60 s before forcing them.
            STRATUS_COMPUTE_SHUTDOWN_TIMEOUT="2",
            # The live stacks run on this machine's own network: their guests use QEMU user networking.
            # Bridges, DHCP and nftables are tested inside throwaway network namespaces instead.
            STRATUS_COMPUTE_NETWORKING="user",
            # The shared stack has one compute host: resize tests need the operator's same-host setting.
            STRATUS_ALLOW_RESIZE_TO_SAME_HOST="true",
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        # The run's backend: on PostgreSQL, a database of the stack's own on the run's server (made
        # by start()), on SQLite a file in the stack's data dir.
        self.database_url: str | None = None
        env.update(extra_env or {})
        self.env = env
        self.services: dict[str, Service] = {}

    def manage(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def shell(self, code: str) -> str:
        """Run Python in the stack's Django environment and return what it prints."""
        return self.manage("shell", "--no-imports", "-c", code).stdout.strip()

    def start(self) -> LiveStack:
        self.copy_template()
        self.manage("bootstrap")
        self.start_worker()
        self.start_web()
        self.start_console_proxy()
        return self

    def copy_template(self) -> None:
        """The migrated database and the collected static files, copied from the process's template:
        `manage.py migrate` and `collectstatic` run once for all the stacks (prepared_template)."""
        data_dir, template_url = prepared_template()
        shutil.copytree(data_dir / "static", self.data_dir / "static", dirs_exist_ok=True)
        if template_url:
            self.database_url = fresh_database_url("live", template=template_url)
            self.env["DATABASE_URL"] = self.database_url
        else:
            for path in data_dir.glob("stratus.sqlite3*"):
                shutil.copy2(path, self.data_dir / path.name)

    def start_web(self) -> None:
        self.services["web"] = Service(
            "web",
            [str(BIN / "gunicorn"), "dashboard.wsgi", "--config", "dashboard/gunicorn.conf.py"],
            env=self.env,
            cwd=ROOT,
            log=self.root / "web.log",
        )
        wait_for(self._web_ready, timeout=60, what="gunicorn to serve /healthz")

    def _web_ready(self) -> bool:
        self.services["web"].check()
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
            return response.status == 200

    def start_console_proxy(self) -> None:
        """The console proxy (`manage.py console_proxy`), as `make run` starts it."""
        self.services["console"] = Service(
            "console",
            [PYTHON, "manage.py", "console_proxy"],
            env=self.env,
            cwd=ROOT,
            log=self.root / "console.log",
        )
        wait_for(self._console_ready, timeout=60, what="the console proxy to listen")

    def _console_ready(self) -> bool:
        self.services["console"].check()
        with socket.create_connection(("127.0.0.1", self.console_port), timeout=2):
            return True

    def start_worker(self, name: str = "worker", queues: str = "default,images") -> Service:
        log = self.root / f"{name}.log"
        argv = [
            str(BIN / "celery"),
            "-A",
            "dashboard",
            "worker",
            "--loglevel",
            "INFO",
            "--queues",
            queues,
            "--hostname",
            f"{name}@{self.port}",
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
        ]
        service = Service(name, argv, env=self.env, cwd=ROOT, log=log)
        self.services[name] = service
        wait_for(
            lambda: service.check() or b" ready." in log.read_bytes(),
            timeout=60,
            what=f"Celery {name} to be ready",
        )
        return service

    def start_beat(self) -> Service:
        """Celery beat, as the Procfile runs it, with its schedule file in the stack's directory."""
        log = self.root / "beat.log"
        argv = [
            str(BIN / "celery"),
            "-A",
            "dashboard",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(self.root / "celerybeat-schedule"),
        ]
        service = Service("beat", argv, env=self.env, cwd=ROOT, log=log)
        self.services["beat"] = service
        wait_for(
            lambda: service.check() or b"beat: Starting..." in log.read_bytes(),
            timeout=60,
            what="Celery beat to start",
        )
        return service

    def restart_redis(self) -> None:
        """Stop Redis and start it again on the same socket: empty without persistence (as after a
        crash), else with what its append-only file kept (a graceful stop keeps everything)."""
        self.redis.stop()
        self.redis = RedisServer(self.root / "redis", persistent=self.persistent_redis)

    def start_compute_agent(
        self,
        host: str,
        state_dir: Path | None = None,
        az: str = "nova",
        *args: str,
        env: dict | None = None,
        netns: str | None = None,
    ) -> Service:
        """A compute agent (``manage.py compute_agent``) for ``host``, ready when its worker is;
        with ``netns``, run in that named network namespace (its own host network)."""
        state_dir = state_dir or self.compute_state_dir(host)
        log = self.root / f"compute-{host}.log"
        start = log.stat().st_size if log.exists() else 0
        argv = [
            *(["ip", "netns", "exec", netns] if netns else []),
            PYTHON,
            "manage.py",
            "compute_agent",
            "--host",
            host,
            "--state-dir",
            str(state_dir),
            "--availability-zone",
            az,
            *args,
        ]
        service = Service(f"compute-{host}", argv, env={**self.env, **(env or {})}, cwd=ROOT, log=log)
        self.services[f"compute-{host}"] = service
        wait_for(
            lambda: service.check() or b" ready." in log.read_bytes()[start:],
            timeout=90,
            what=f"compute agent {host} to be ready",
        )
        return service

    def compute_state_dir(self, host: str) -> Path:
        return self.root / f"compute-{host}"

    def token(self, username: str, password: str, project: str) -> str:
        """A project-scoped API token, by Keystone password authentication against the stack."""
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": username, "domain": {"name": "Default"}, "password": password}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
            }
        }
        request = urllib.request.Request(
            f"{self.url}/identity/v3/auth/tokens",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers["X-Subject-Token"]

    def log(self, name: str) -> str:
        return _tail(self.root / f"{name}.log", 200)

    def guest_pids(self) -> list[int]:
        """QEMU guests started by this stack's agents: their command line names a path under its root.
        They run detached (as in production) and outlive the agents, so teardown reaps them here."""
        marker = str(self.root).encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:  # the process ended while we looked
                continue
            if b"qemu-system" in cmdline and marker in cmdline:
                pids.append(int(entry.name))
        return pids

    def stop(self, *, remove: bool = False) -> None:
        """Stop every process of the stack; ``remove`` also deletes its directory (benches)."""
        for service in reversed(list(self.services.values())):
            service.stop()
        for pid in self.guest_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.redis.stop()
        if self.database_url:
            drop_database(self.database_url)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)
