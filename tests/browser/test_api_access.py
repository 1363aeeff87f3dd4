"""Project → API Access in headless Chromium against the live stack: the downloaded clouds.yaml and
openrc work with the real openstack CLI once it is given the password; an application credential
made in the panel runs `openstack server list` with no password at all, until it is deleted."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import yaml
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.support.openstackcli import bare_env, openstack_binary, run_answering_prompt
from tests.support.screenshots import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_a_member_s_clouds_yaml_and_openrc_work_with_the_cli_and_the_password(page, credentials, tmp_path):
    sign_in(page, "demo", credentials["demo"])
    page.get_by_role("link", name="API Access").click()
    expect(page.get_by_role("heading", name="API Access")).to_be_visible()
    expect(page.locator("[data-testid=endpoints] tr[data-service=compute]")).to_contain_text("/compute/v2.1")

    with page.expect_download() as clouds_download:
        page.get_by_role("link", name="Download clouds.yaml").click()
    clouds = tmp_path / "clouds.yaml"
    clouds_download.value.save_as(clouds)
    assert credentials["demo"] not in clouds.read_text()
    project_id = yaml.safe_load(clouds.read_text())["clouds"]["stratus"]["auth"]["project_id"]

    env = {**bare_env(), "OS_CLIENT_CONFIG_FILE": str(clouds)}
    argv = [openstack_binary(), "--os-cloud", "stratus", "token", "issue", "-f", "json"]
    status, output = run_answering_prompt(argv, env, "Password", credentials["demo"])
    assert status == 0, output
    assert f'"project_id": "{project_id}"' in output
    # The same file with the password in the environment instead, as scripts run it.
    listed = subprocess.run(
        [openstack_binary(), "--os-cloud", "stratus", "server", "list", "-f", "json"],
        env={**env, "OS_PASSWORD": credentials["demo"]}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)

    with page.expect_download() as rc_download:
        page.get_by_role("link", name="Download OpenStack RC File").click()
    assert rc_download.value.suggested_filename == "demo-openrc.sh"
    openrc = tmp_path / "openrc.sh"
    rc_download.value.save_as(openrc)
    assert credentials["demo"] not in openrc.read_text()
    issued = subprocess.run(
        ["bash", "-c", f'source "{openrc}" && "{openstack_binary()}" token issue -f json'],
        input=credentials["demo"] + "\n", env=bare_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["project_id"] == project_id


def test_an_application_credential_from_the_panel_runs_the_cli_without_a_password(
    page, credentials, tmp_path
):
    name = f"script-{uuid.uuid4().hex[:6]}"
    sign_in(page, "demo", credentials["demo"])
    page.goto("/api-access/")
    page.get_by_role("link", name="Create Application Credential").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill("runs the nightly report")
    page.get_by_label("member").check()
    page.get_by_role("button", name="Create Application Credential").click()
    secret = page.get_by_test_id("credential-secret-value").inner_text()
    assert len(secret) >= 40

    with page.expect_download() as download:
        page.get_by_role("button", name="Download clouds.yaml").click()
    clouds = tmp_path / "clouds.yaml"
    download.value.save_as(clouds)
    assert (
        yaml.safe_load(clouds.read_text())["clouds"]["stratus"]["auth"]["application_credential_secret"]
        == secret
    )

    env = {**bare_env(), "OS_CLIENT_CONFIG_FILE": str(clouds)}
    server_list = [openstack_binary(), "--os-cloud", "stratus", "server", "list", "-f", "json"]
    listed = subprocess.run(
        server_list, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)

    page.get_by_role("link", name="Done").click()
    row = page.locator(f'tr[data-credential="{name}"]')
    expect(row).to_contain_text("member")
    screenshot(page, "api-access.png", full_page=True)
    row.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete Application Credential").click()
    expect(page.get_by_text(f'Deleted application credential "{name}".')).to_be_visible()
    refused = subprocess.run(
        server_list, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert refused.returncode != 0 and "401" in refused.stderr
