"""The unmodified `openstack` client against the running server."""

from __future__ import annotations

import urllib.error
import urllib.request

from tests.support.openstackcli import OpenStackCLI


def test_token_issue_returns_a_project_scoped_token(openstack_demo, live_stack):
    token = openstack_demo.json("token", "issue")
    project_id = live_stack.shell(
        "from dashboard.models import Project; print(Project.objects.get(name='demo').id)"
    )
    assert token["project_id"] == project_id
    assert token["id"] and token["expires"]


def test_catalog_list_names_every_service_at_this_server(openstack_demo, live_stack):
    entries = {e["Type"]: e for e in openstack_demo.json("catalog", "list")}
    assert {"identity", "image", "compute", "volumev3", "block-storage"} <= set(entries)
    urls = {ep["url"] for ep in entries["image"]["Endpoints"]}
    assert urls == {f"{live_stack.url}/image"}


def test_an_unversioned_auth_url_works_through_discovery(openstack_demo, live_stack):
    cli = OpenStackCLI(live_stack.url, "demo", openstack_demo.env["OS_PASSWORD"], "demo")
    cli.env["OS_AUTH_URL"] = f"{live_stack.url}/identity"
    assert cli.json("token", "issue")["user_id"]


def test_a_wrong_password_is_refused(live_stack):
    cli = OpenStackCLI(live_stack.url, "demo", "not-the-password", "demo")
    result = cli.run("token", "issue", check=False)
    assert result.returncode != 0
    assert "HTTP 401" in result.stderr


def _image_list_status(url: str, token: str) -> int:
    """GET /image/v2/images on a connection of its own (so gunicorn may give it to any worker)."""
    request = urllib.request.Request(f"{url}/image/v2/images?limit=1", headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_token_revoke_ends_the_token(openstack_demo, live_stack):
    token = openstack_demo.json("token", "issue")["id"]
    # Used first, so the web workers keep it validated; the revocation must reach all of them.
    assert [_image_list_status(live_stack.url, token) for _ in range(8)] == [200] * 8
    openstack_demo.run("token", "revoke", token)
    assert [_image_list_status(live_stack.url, token) for _ in range(8)] == [401] * 8
    cli = OpenStackCLI.__new__(OpenStackCLI)
    cli.binary, cli.env = openstack_demo.binary, dict(openstack_demo.env)
    cli.env.update(OS_AUTH_TYPE="v3token", OS_TOKEN=token)
    for name in ("OS_USERNAME", "OS_PASSWORD", "OS_USER_DOMAIN_NAME"):
        cli.env.pop(name)
    result = cli.run("token", "issue", check=False)
    assert result.returncode != 0 and "401" in result.stderr
