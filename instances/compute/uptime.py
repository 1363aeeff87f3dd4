"""The host's uptime line, as the ``uptime`` command prints it (what Nova's hypervisor uptime
answers): the time, how long the host has been up and the load averages, from /proc/uptime and
the kernel's load average."""

from __future__ import annotations

import os
import time
from pathlib import Path

PROC_UPTIME = Path("/proc/uptime")


def uptime_line(proc_uptime: Path = PROC_UPTIME, now: float | None = None) -> str:
    seconds = int(float(proc_uptime.read_text().split()[0]))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    up = f"{hours}:{minutes:02d}" if hours else f"{minutes} min"
    if days:
        up = f"{days} day{'s' if days != 1 else ''}, {up}"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    clock = time.strftime("%H:%M:%S", time.localtime(now))
    return f" {clock} up {up},  load average: {load}"
