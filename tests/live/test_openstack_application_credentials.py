"""python-openstackclient, unmodified, managing application credentials on the live server and
signing in with one (no password), until it is deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.live


def credential_cli(cli, url: str, cred_id: str, secret: str):
    """The same CLI, configured as a script would be with only an application credential."""
    env = {k: v for k, v in cli.env.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_TYPE="v3applicationcredential",
        OS_AUTH_URL=f"{url}/identity/v3",
        OS_APPLICATION_CREDENTIAL_ID=cred_id,
        OS_APPLICATION_CREDENTIAL_SECRET=secret,
        OS_IDENTITY_API_VERSION="3",
        OS_INTERFACE="public",
    )
    clone = type(cli).__new__(type(cli))
    clone.env, clone.binary = env, cli.binary
    return clone


def test_the_application_credential_commands_of_the_openstack_cli(openstack_demo, live_stack):
    cli = openstack_demo
    name = f"ci-{uuid.uuid4().hex[:8]}"
    expires = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    created = cli.json(
        "application", "credential", "create", "--description", "for CI", "--role", "reader",
        "--expiration", expires, name,
    )  # fmt: skip
    assert created["Name"] == name and created["Description"] == "for CI"
    assert created["Secret"] and created["Unrestricted"] is False
    assert [role["name"] for role in created["Roles"]] == ["reader"]
    assert created["Expires At"].startswith(expires)

    listed = {row["Name"]: row for row in cli.json("application", "credential", "list")}
    assert listed[name]["ID"] == created["ID"]
    shown = cli.json("application", "credential", "show", name)
    assert shown["ID"] == created["ID"] and not shown.get("Secret")

    scripted = credential_cli(cli, live_stack.url, created["ID"], created["Secret"])
    issued = scripted.json("token", "issue")
    assert issued["project_id"] == created["Project ID"]
    assert isinstance(scripted.json("server", "list"), list)
    # A restricted credential may not make another one.
    refused = scripted.run("application", "credential", "create", f"{name}-2", check=False)
    assert refused.returncode != 0 and "403" in refused.stderr + refused.stdout

    cli.run("application", "credential", "delete", name)
    gone = scripted.run("token", "issue", check=False)
    assert gone.returncode != 0 and "401" in gone.stderr + gone.stdout
    assert name not in {row["Name"] for row in cli.json("application", "credential", "list")}
