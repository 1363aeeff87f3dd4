"""Web-tier hardening: deploy checks, security headers, CSRF."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.factories import PASSWORD, make_project, make_user
from tests.support.processes import ROOT


def test_deploy_checks_pass_with_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env.update(
        STRATUS_DATA_DIR=str(tmp_path),
        STRATUS_BEHIND_TLS_PROXY="true",
        ALLOWED_HOSTS="cloud.example.org",
        SECRET_KEY="k" * 20 + "Zx9!q" * 10,
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/auth/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_a_browser_post_without_the_csrf_token_is_refused():
    from django.test import Client

    project = make_project("demo")
    make_user("alice", roles={project: "member"})
    client = Client(enforce_csrf_checks=True)
    assert client.post("/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_user_supplied_text_is_escaped(client):
    project = make_project("<script>alert(1)</script>")
    make_user("alice", roles={project: "member"})
    client.post("/auth/login/", {"username": "alice", "password": PASSWORD})
    page = client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_template_carries_an_inline_script():
    """The content security policy allows only our static scripts; inline ones would silently not run."""
    from tests.support.processes import ROOT

    offenders = []
    for path in ROOT.glob("**/templates/**/*.html"):
        if ".venv" in path.parts or "node_modules" in path.parts:
            continue
        text = path.read_text()
        for tag in text.split("<script")[1:]:
            if "src=" not in tag.split(">", 1)[0]:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
