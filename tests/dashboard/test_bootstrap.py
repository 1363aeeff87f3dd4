from __future__ import annotations

import pytest
from django.core.management import call_command

from dashboard.models import Project, RoleAssignment, User

pytestmark = pytest.mark.django_db


def test_bootstrap_creates_projects_users_and_roles(monkeypatch, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    monkeypatch.setenv("STRATUS_ADMIN_PASSWORD", "admin-pass-123")
    monkeypatch.setenv("STRATUS_DEMO_PASSWORD", "demo-pass-123")
    call_command("bootstrap")
    assert set(Project.objects.values_list("name", flat=True)) == {"admin", "demo", "service"}
    compute = User.objects.get(username="compute")
    assert compute.service and not compute.has_usable_password()
    assert list(RoleAssignment.objects.filter(user=compute).values_list("project__name", "role__name")) == [
        ("service", "admin")
    ]
    admin, demo = User.objects.get(username="admin"), User.objects.get(username="demo")
    assert admin.check_password("admin-pass-123") and demo.check_password("demo-pass-123")
    assert RoleAssignment.objects.filter(user=admin, project__name="admin", role__name="admin").exists()
    assert list(RoleAssignment.objects.filter(user=demo).values_list("project__name", "role__name")) == [
        ("demo", "member")
    ]
    assert not (tmp_path / "initial-credentials.txt").exists()


def test_bootstrap_twice_changes_nothing(monkeypatch, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    monkeypatch.delenv("STRATUS_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("STRATUS_DEMO_PASSWORD", raising=False)
    call_command("bootstrap")
    hashes = dict(User.objects.values_list("username", "password"))
    counts = (Project.objects.count(), User.objects.count(), RoleAssignment.objects.count())
    call_command("bootstrap")
    assert dict(User.objects.values_list("username", "password")) == hashes
    assert (Project.objects.count(), User.objects.count(), RoleAssignment.objects.count()) == counts


def test_generated_passwords_are_printed_once_and_stored(monkeypatch, settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path
    monkeypatch.delenv("STRATUS_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("STRATUS_DEMO_PASSWORD", raising=False)
    call_command("bootstrap")
    stored = dict(line.split() for line in (tmp_path / "initial-credentials.txt").read_text().splitlines())
    assert User.objects.get(username="admin").check_password(stored["admin"])
    assert User.objects.get(username="demo").check_password(stored["demo"])
    assert stored["admin"] in capsys.readouterr().out
    call_command("bootstrap")
    assert stored["admin"] not in capsys.readouterr().out
