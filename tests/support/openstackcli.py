"""python-openstackclient, unmodified, as a cloud user runs it against the live server."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

from tests.support.processes import BIN, require


class OpenStackCLI:
    """python-openstackclient, unmodified, pointed at the live server."""

    def __init__(self, url: str, username: str, password: str, project: str):
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env.update(
            OS_AUTH_URL=f"{url}/identity/v3",
            OS_USERNAME=username,
            OS_PASSWORD=password,
            OS_PROJECT_NAME=project,
            OS_USER_DOMAIN_NAME="Default",
            OS_PROJECT_DOMAIN_NAME="Default",
            OS_IDENTITY_API_VERSION="3",
            OS_INTERFACE="public",
            HOME=self.env.get("HOME", "/tmp"),
        )
        self.binary = str(BIN / "openstack") if (BIN / "openstack").exists() else require("openstack")

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [self.binary, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"openstack {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def json(self, *args: str):
        return json.loads(self.run(*args, "-f", "json").stdout)


def bare_env() -> dict[str, str]:
    """The environment without any OS_* variable, as a fresh shell has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.setdefault("HOME", "/tmp")
    return env


def openstack_binary() -> str:
    return str(BIN / "openstack") if (BIN / "openstack").exists() else require("openstack")


def run_answering_prompt(
    argv: list[str], env: dict[str, str], prompt: str, answer: str, timeout: float = 120
) -> tuple[int, str]:
    """Run a command on a pseudo-terminal, as a person at a terminal would, and type ``answer``
    once it shows ``prompt``. Returns the exit status and everything it wrote to the terminal."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        argv, env=env, stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True
    )
    os.close(terminal)
    output, answered = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the other end closed: the command is done
                break
            if not chunk:
                break
            output += chunk
            if not answered and prompt.encode() in output:
                os.write(controller, answer.encode() + b"\n")
                answered = True
        else:
            raise AssertionError(
                f"{argv[0]} did not finish in {timeout} s:\n{output.decode(errors='replace')}"
            )
        status = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    text = output.decode(errors="replace")
    assert answered, f"{argv[0]} never asked {prompt!r}:\n{text}"
    return status, text
