"""python-openstackclient, unmodified, administering identity: projects, users, role assignments;
the same commands are refused to a member."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.support.openstackcli import OpenStackCLI

pytestmark = pytest.mark.live


def test_an_admin_manages_projects_users_and_roles_with_the_cli(openstack_admin, openstack_demo, live_stack):
    cli, tag = openstack_admin, uuid.uuid4().hex[:6]
    project = cli.json("project", "create", "--description", "team web", f"web-{tag}")
    assert (project["name"], project["description"], project["domain_id"]) == (
        f"web-{tag}",
        "team web",
        "default",
    )
    user = cli.json(
        "user", "create", "--project", project["id"], "--password", "a-long-secret-9", f"ann-{tag}"
    )
    assert user["default_project_id"] == project["id"]
    cli.run("role", "add", "--project", f"web-{tag}", "--user", f"ann-{tag}", "member")
    listed = cli.json(
        "role", "assignment", "list", "--user", f"ann-{tag}", "--project", f"web-{tag}", "--names"
    )
    assert [(a["User"], a["Project"], a["Role"]) for a in listed] == [
        (f"ann-{tag}@Default", f"web-{tag}@Default", "member")
    ]

    # The new user works with the new project.
    ann = OpenStackCLI(live_stack.url, f"ann-{tag}", "a-long-secret-9", f"web-{tag}")
    assert ann.run("token", "issue").returncode == 0

    cli.run("project", "set", "--description", "renamed", f"web-{tag}")
    assert cli.json("project", "show", f"web-{tag}")["description"] == "renamed"
    cli.run("user", "set", "--email", "ann@example.org", f"ann-{tag}")
    assert cli.json("user", "show", f"ann-{tag}")["email"] == "ann@example.org"

    cli.run("role", "remove", "--project", f"web-{tag}", "--user", f"ann-{tag}", "member")
    assert cli.json("role", "assignment", "list", "--user", user["id"]) == []
    assert ann.run("token", "issue", check=False).returncode != 0
    cli.run("user", "delete", f"ann-{tag}")
    cli.run("project", "delete", f"web-{tag}")
    assert cli.run("project", "show", f"web-{tag}", check=False).returncode != 0


def test_a_member_is_refused_every_identity_administration_command(openstack_demo, openstack_admin):
    cli = openstack_demo
    for args in (
        ("project", "create", "mine"),
        ("user", "create", "--password", "a-long-secret-9", "eve"),
        ("role", "assignment", "list"),
    ):
        result = cli.run(*args, check=False)
        assert result.returncode != 0, args
        assert "403" in result.stderr or "not authorized" in result.stderr, (args, result.stderr)
    # `role add` exits 0 whatever the answer (openstacksdk reads only a 204 and raises on nothing
    # else), so what counts is that no assignment was made.
    cli.run("role", "add", "--project", "demo", "--user", "demo", "admin", check=False)
    roles = openstack_admin.json(
        "role", "assignment", "list", "--user", "demo", "--project", "demo", "--names"
    )
    assert "admin" not in [a["Role"] for a in roles]
    assert [a["Role"] for a in roles] == ["member"]


def test_a_user_changes_their_own_password_with_the_cli_and_old_tokens_end(openstack_admin, live_stack):
    tag = uuid.uuid4().hex[:6]
    openstack_admin.run("user", "create", "--project", "demo", "--password", "first-secret-1", f"pw-{tag}")
    openstack_admin.run("role", "add", "--project", "demo", "--user", f"pw-{tag}", "member")
    old = live_stack.token(f"pw-{tag}", "first-secret-1", "demo")
    user = OpenStackCLI(live_stack.url, f"pw-{tag}", "first-secret-1", "demo")
    refused = user.run(
        "user",
        "password",
        "set",
        "--original-password",
        "wrong",
        "--password",
        "second-secret-2",
        check=False,
    )
    assert refused.returncode != 0
    user.run(
        "user", "password", "set", "--original-password", "first-secret-1", "--password", "second-secret-2"
    )
    assert user.run("token", "issue", check=False).returncode != 0  # the old password no longer works
    renewed = OpenStackCLI(live_stack.url, f"pw-{tag}", "second-secret-2", "demo")
    assert renewed.run("token", "issue").returncode == 0
    # The token issued with the old password ended with it.
    response = requests.get(
        f"{live_stack.url}/compute/v2.1/servers", headers={"X-Auth-Token": old}, timeout=30
    )
    assert response.status_code == 401
