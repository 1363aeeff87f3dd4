from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from oslo_policy import policy as oslo_policy

from dashboard import policy
from dashboard.exceptions import Forbidden
from tests.factories import context, make_project, make_user
from tests.support.wait import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def reset_enforcer():
    yield
    policy.register_defaults([])  # drops the cached enforcer so later tests see the defaults


def test_admin_role_is_cloud_admin(reset_enforcer):
    project = make_project()
    admin = context(make_user(roles={project: "admin"}), project)
    member = context(make_user(roles={project: "member"}), project)
    assert admin.is_admin and policy.can(admin, "dashboard:admin_section")
    assert not member.is_admin and not policy.can(member, "dashboard:admin_section")


def test_member_rules_follow_the_target_project(reset_enforcer):
    mine, theirs = make_project(), make_project()
    member = context(make_user(roles={mine: "member"}), mine)
    assert policy.can(member, "admin_or_member", {"project_id": mine.id})
    assert not policy.can(member, "admin_or_member", {"project_id": theirs.id})
    reader = context(make_user(roles={mine: "reader"}), mine)
    assert not policy.can(reader, "admin_or_member", {"project_id": mine.id})
    assert policy.can(reader, "admin_or_reader", {"project_id": mine.id})
    with pytest.raises(Forbidden):
        policy.authorize(reader, "admin_or_member", {"project_id": mine.id})


def test_an_unregistered_rule_name_is_a_programming_error(reset_enforcer):
    project = make_project()
    with pytest.raises(KeyError):
        policy.can(context(make_user(roles={project: "member"}), project), "no:such:rule")


def reader_under_policy(tmp_path, settings, text: str):
    """A project reader, with ``text`` as the operator's policy file; returns (file, reader)."""
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    settings.POLICY_FILE = str(path)
    policy.register_defaults([])
    project = make_project()
    return path, context(make_user(roles={project: "reader"}), project)


def test_a_policy_file_overrides_a_default(tmp_path, settings, reset_enforcer):
    _, reader = reader_under_policy(tmp_path, settings, '"dashboard:admin_section": "role:reader"\n')
    assert policy.can(reader, "dashboard:admin_section")


def test_a_json_policy_file_works_too(tmp_path, settings, reset_enforcer):
    path = tmp_path / "policy.json"
    path.write_text('{"identity:list_users": "!"}')
    settings.POLICY_FILE = str(path)
    policy.register_defaults([])
    project = make_project()
    admin = context(make_user(roles={project: "admin"}), project)
    assert not policy.can(admin, "identity:list_users")


def test_a_policy_file_naming_an_undefined_rule_is_refused(tmp_path, settings, reset_enforcer):
    path = tmp_path / "policy.yaml"
    path.write_text('"identity:list_users": "rule:does_not_exist"\n')
    settings.POLICY_FILE = str(path)
    policy.register_defaults([])
    project = make_project()
    with pytest.raises(oslo_policy.InvalidDefinitionError):
        policy.can(context(make_user(roles={project: "admin"}), project), "identity:list_users")


def test_a_missing_policy_file_stops_start_up(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "STRATUS_POLICY_FILE": str(tmp_path / "absent.yaml")},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "STRATUS_POLICY_FILE" in result.stderr


def test_a_changed_policy_file_takes_effect_without_a_restart(tmp_path, settings, reset_enforcer):
    path, reader = reader_under_policy(tmp_path, settings, '"dashboard:admin_section": "role:reader"\n')
    assert policy.can(reader, "dashboard:admin_section")
    assert policy.can(reader, "dashboard:admin_section")  # a decision kept
    path.write_text('"dashboard:admin_section": "role:admin"\n')
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    wait_for(lambda: not policy.can(reader, "dashboard:admin_section"), timeout=10, what="the new rule")


class _Verdicts(BaseHTTPRequestHandler):
    """A remote policy check (oslo.policy's http: rule) whose answer the test changes."""

    answer = "True"
    calls = 0

    def do_POST(self):  # noqa: N802 - http.server's naming
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = type(self).answer.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_decisions_of_an_external_check_are_asked_every_time(tmp_path, settings, reset_enforcer):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Verdicts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rule = f'"dashboard:admin_section": "http://127.0.0.1:{server.server_port}/check"\n'
        _, reader = reader_under_policy(tmp_path, settings, rule)
        _Verdicts.answer, _Verdicts.calls = "True", 0
        assert policy.can(reader, "dashboard:admin_section")
        _Verdicts.answer = "False"
        assert not policy.can(reader, "dashboard:admin_section")
        assert _Verdicts.calls == 2
    finally:
        server.shutdown()
        server.server_close()
