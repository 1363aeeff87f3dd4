"""python-openstackclient, unmodified, as a cloud user runs it against the live server."""

from __future__ import annotations

import json
import os
import subprocess

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
