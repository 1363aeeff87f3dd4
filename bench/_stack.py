"""A throwaway Stratus stack (Redis, worker, gunicorn) for the benches, and small helpers."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import DEMO_PASSWORD, LiveStack  # noqa: E402


def start(**extra_env) -> LiveStack:
    stack = LiveStack(Path(tempfile.mkdtemp(prefix="stratus-bench-")), extra_env=extra_env)
    stack.start()
    return stack


def token(stack: LiveStack) -> str:
    return stack.token("demo", DEMO_PASSWORD, "demo")


def web_worker_pids(stack: LiveStack) -> list[int]:
    master = stack.services["web"].proc.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(p) for p in children]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
