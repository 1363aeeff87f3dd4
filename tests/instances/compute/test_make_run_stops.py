"""`make run` (``manage.py serve``) stopped: its guests are powered off and recorded SHUTOFF, and no
bridge, tap, dnsmasq or nftables table of ours is left on the machine.

The "machine" is a throwaway network namespace, so the whole `make run` (Redis, worker, beat, the
compute agent with bridge networking, gunicorn) runs as on a fresh host, with a real QEMU guest.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import urllib.request
from types import SimpleNamespace

import pytest

from instances.virt.hostnet import BRIDGE_PREFIX, TAP_PREFIX
from tests.instances.bootimage import build_boot_image
from tests.instances.live import Cloud, token
from tests.support.netlab import Lab, inside
from tests.support.postgres import fresh_database_url
from tests.support.processes import ADMIN_PASSWORD, DEMO_PASSWORD, PYTHON, ROOT, free_port, require
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


def ours(netns: str) -> dict[str, list[str]]:
    """What of Stratus's host networking the namespace holds."""
    links = subprocess.run(
        ["ip", "-n", netns, "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    tables = subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout
    pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, check=True).stdout
    commands = []
    for pid in pids.split():
        try:
            commands.append(open(f"/proc/{pid}/comm").read().strip())  # noqa: SIM115 - one short read
        except OSError:
            continue
    return {
        "links": sorted(n for n in names if n.startswith((BRIDGE_PREFIX, TAP_PREFIX))),
        "tables": [t for t in tables.splitlines() if t.strip() == "table inet stratus"],
        "processes": sorted(c for c in commands if c == "dnsmasq" or c.startswith("qemu")),
    }


def test_stopping_make_run_stops_the_guests_and_leaves_no_host_networking(tmp_path, stack_database):
    for tool in ("ip", "nft", "dnsmasq", "redis-server", "qemu-system-x86_64"):
        require(tool)
    lab = Lab(tag=secrets.token_hex(2), tmp=tmp_path)
    serve = None
    try:
        netns = lab.namespace("host")
        port = free_port()  # a fresh namespace has every port free; any one will do
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "DATABASE_URL", "REDIS_URL"))}
        env.update(
            STRATUS_DATA_DIR=str(tmp_path / "data"),
            PORT=str(port),
            STRATUS_ADMIN_PASSWORD=ADMIN_PASSWORD,
            STRATUS_DEMO_PASSWORD=DEMO_PASSWORD,
            ALLOWED_HOSTS="127.0.0.1",
            DEBUG="false",
            STRATUS_QEMU_ACCEL="tcg",
            STRATUS_COMPUTE_SHUTDOWN_TIMEOUT="2",  # the boot-sector guest ignores ACPI power-down
        )
        database_url = fresh_database_url("serve")
        if database_url:
            env["DATABASE_URL"] = database_url
        log = tmp_path / "serve.log"
        with open(log, "wb") as out:
            serve = subprocess.Popen(
                ["ip", "netns", "exec", netns, PYTHON, "manage.py", "serve"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        stack = SimpleNamespace(url=f"http://127.0.0.1:{port}")

        def healthy() -> bool:
            assert serve.poll() is None, log.read_text()
            with urllib.request.urlopen(f"{stack.url}/healthz", timeout=2) as response:
                return response.status == 200

        with inside(netns):
            wait_for(healthy, timeout=120, what="make run to serve /healthz")
            demo = Cloud(stack, token(stack, "demo", DEMO_PASSWORD, "demo"))
            admin = Cloud(stack, token(stack, "admin", ADMIN_PASSWORD, "admin"))
            flavor = admin.ensure_flavor()
            image = demo.upload_image("marker", build_boot_image(tmp_path / "marker.raw", "STOPS"))
            server_id = wait_for(
                lambda: demo.create("guest", image, flavor), timeout=60, what="a compute host to take it"
            )
            demo.wait_status(server_id, "ACTIVE", timeout=120)
        running = ours(netns)
        assert running["links"] and running["tables"] and "dnsmasq" in running["processes"], running
        assert any(p.startswith("qemu") for p in running["processes"]), running

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(120) is not None
        assert "stopped 1 guests" in log.read_text(), log.read_text()
        assert ours(netns) == {"links": [], "tables": [], "processes": []}
        shown = subprocess.run(
            [PYTHON, "manage.py", "shell", "--no-imports", "-c",
             f"from instances.models import Instance; i = Instance.objects.get(pk='{server_id}'); "
             "print(i.vm_state, i.power_state)"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert shown == ["stopped", "4"], shown
    finally:
        if serve is not None and serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(10)
        lab.destroy()
