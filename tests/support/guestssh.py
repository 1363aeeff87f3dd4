"""Logging in to a test guest over SSH as a user would, with the private key of a key pair."""

from __future__ import annotations

import contextlib
import io

import paramiko

from tests.support.netlab import inside
from tests.support.wait import wait_for


def login(
    port: int,
    private_key: str,
    *,
    host: str = "127.0.0.1",
    netns: str | None = None,
    timeout: float = 90,
    interval: float = 1,
    attempt_timeout: float | None = None,
) -> paramiko.SSHClient:
    """root@host:port with the key, retried every ``interval`` seconds until the forward and the
    guest's server answer. With ``netns``, the connection is made from that named network namespace
    (a compute host's). ``attempt_timeout`` bounds both the TCP connect and the wait for the server's
    banner in one attempt (by default 10 s and 30 s): a forward that accepts before the guest listens
    (QEMU's ``hostfwd``) holds a connection open without an answer, which a short bound retries sooner."""
    connect_timeout, banner_timeout = (10, 30) if attempt_timeout is None else (attempt_timeout,) * 2
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(private_key))
    errors: list[str] = []

    def connect() -> paramiko.SSHClient | None:
        client = paramiko.SSHClient()
        # A fresh guest: its host key was made at boot.
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            with inside(netns) if netns else contextlib.nullcontext():
                client.connect(
                    host, port=port, username="root", pkey=key, allow_agent=False, look_for_keys=False,
                    timeout=connect_timeout, banner_timeout=banner_timeout, auth_timeout=30,
                )  # fmt: skip
        except (OSError, paramiko.SSHException) as exc:
            client.close()
            errors.append(repr(exc))
            return None
        return client

    try:
        return wait_for(connect, timeout=timeout, interval=interval, what=f"an SSH login on {host}:{port}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; errors: {errors[-3:]}") from None


def run(client: paramiko.SSHClient, command: str) -> str:
    """The command's output; fails unless it exits 0."""
    _, stdout, stderr = client.exec_command(command, timeout=30)
    output = stdout.read().decode()
    status = stdout.channel.recv_exit_status()
    assert status == 0, f"{command!r} exited {status}: {stderr.read().decode()}"
    return output.strip()
