"""Prepares the data dir and database, runs every process under honcho, and when honcho ends
(Ctrl-C, SIGTERM) stops this machine's guests and removes their host networking: `make run` is one
machine, and stopping it leaves nothing running behind (``--keep-guests`` leaves the guests as a
compute agent's restart does)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

PROCFILE = Path(settings.BASE_DIR) / "Procfile"


def redis_conf(data_dir: Path) -> str:
    return "\n".join(
        [
            "port 0",
            f"unixsocket {data_dir / 'redis.sock'}",
            "unixsocketperm 700",
            f"dir {data_dir / 'redis'}",
            # The queues are the record of work handed to workers and agents: an append-only file
            # written every second keeps them across a crash or restart of Redis (what still gets
            # lost in that second, the sweepers and the outbox bring back).
            "save 60 1000",
            "appendonly yes",
            "appendfsync everysec",
            "daemonize no",
            "",
        ]
    )


class Command(BaseCommand):
    help = "Migrate, bootstrap, collect static files; start web, worker, beat, compute, console (and Redis)."

    def add_arguments(self, parser):
        parser.add_argument("--no-setup", action="store_true", help="Skip migrate/bootstrap/collectstatic.")
        parser.add_argument(
            "--keep-guests", action="store_true", help="Leave the guests running when stopped."
        )

    def handle(self, *args, no_setup: bool = False, keep_guests: bool = False, **options) -> None:
        data_dir: Path = settings.DATA_DIR
        processes = ["worker", "beat", "compute", "console", "web"]
        if settings.REDIS_IS_PRIVATE:
            if shutil.which("redis-server") is None:
                raise CommandError(
                    "redis-server is not installed: run `make run` as root or install redis-server, "
                    "or set REDIS_URL to a Redis you run."
                )
            (data_dir / "redis").mkdir(exist_ok=True)
            (data_dir / "redis.conf").write_text(redis_conf(data_dir))
            processes.insert(0, "redis")
        if not no_setup:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("bootstrap")
            call_command("collectstatic", interactive=False, verbosity=0)
        env = dict(
            os.environ,
            STRATUS_DATA_DIR=str(data_dir),
            STRATUS_WEB_PORT=str(settings.PORT),
            REDIS_URL=settings.REDIS_URL,
            PYTHONUNBUFFERED="1",
        )
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        self.stdout.write(
            self.style.SUCCESS(f"Stratus is starting on http://127.0.0.1:{settings.PORT}/ (Ctrl-C stops it)")
        )
        sys.stdout.flush()
        honcho = str(Path(bindir) / "honcho")
        argv = [honcho, "start", "--no-colour", "-f", str(PROCFILE), "-d", str(settings.BASE_DIR), *processes]
        child = subprocess.Popen(argv, env=env)

        def forward(signum, _frame) -> None:
            # Ctrl-C reaches honcho from the terminal as well; a signal sent to this process only
            # is passed on. Honcho stops its processes once, however many it gets.
            if child.poll() is None:
                child.send_signal(signum)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        returncode = child.wait()
        if not keep_guests:
            self.stdout.write("Stopping this machine's guests and removing their host networking.")
            sys.stdout.flush()
            call_command("compute_agent", "--stop-guests")
        raise SystemExit(returncode)
