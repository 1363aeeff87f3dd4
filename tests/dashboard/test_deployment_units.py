"""The service units of deploy/systemd start commands that exist, one unit for every process of the
Procfile (Redis aside, which the distribution's own unit runs), and the example settings are
accepted as they are."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import BIN, ROOT

UNITS = ROOT / "deploy" / "systemd"
CHECKOUT = "/opt/stratus"  # where the units expect the checkout, with its .venv


def unit_files() -> list[Path]:
    return sorted(UNITS.glob("*.service"))


def directives(unit: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in unit.read_text().splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def commands(unit: Path) -> list[list[str]]:
    """The Exec lines of a unit, with the deployed paths mapped onto this checkout."""
    found = []
    for key, value in directives(unit):
        if key in ("ExecStart", "ExecStop", "ExecStartPre", "ExecReload") and value.startswith(CHECKOUT):
            argv = shlex.split(value.replace("%H", "host"))
            argv[0] = str(BIN / Path(argv[0]).name)
            found.append(argv)
    return found


def env_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile lines: KEY=value, comments and blank lines skipped."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def run(argv: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(argv, cwd=ROOT, env={**base, **(env or {})}, capture_output=True, text=True)


def test_every_process_of_the_procfile_has_a_unit():
    procfile = (ROOT / "Procfile").read_text().splitlines()
    processes = {line.split(":")[0] for line in procfile if line.strip()} - {"redis"}
    started = {" ".join(argv[1:4]) for unit in unit_files() for argv in commands(unit)}
    wanted = {
        "worker": "-A dashboard worker",
        "beat": "-A dashboard beat",
        "web": "dashboard.wsgi --config dashboard/gunicorn.conf.py",
        "compute": "manage.py compute_agent --availability-zone",
        "console": "manage.py console_proxy",
    }
    assert set(wanted) == processes
    for process, command in wanted.items():
        assert command in started, process


@pytest.mark.parametrize("unit", unit_files(), ids=lambda p: p.name)
def test_the_units_commands_exist(unit, tmp_path):
    settings = {"STRATUS_DATA_DIR": str(tmp_path / "data")}
    argvs = commands(unit)
    assert argvs, f"{unit.name} starts nothing from the checkout"
    for argv in argvs:
        program = Path(argv[0]).name
        if program == "python":
            assert argv[1] == "manage.py"
            result = run([sys.executable, "manage.py", "help", argv[2]], settings)
            assert result.returncode == 0, result.stderr
            options = [a.split("=")[0] for a in argv[3:] if a.startswith("--")]
            assert all(option in result.stdout for option in options), (options, result.stdout)
        elif program == "celery":
            result = run([*argv[:4], "--help"], settings)
            assert result.returncode == 0, result.stderr
            options = [a for a in argv[4:] if a.startswith("--")]
            assert all(option in result.stdout for option in options), (options, result.stdout)
        elif program == "gunicorn":
            result = run([*argv, "--check-config"], settings)
            assert result.returncode == 0, result.stdout + result.stderr
        else:
            pytest.fail(f"{unit.name}: no check for {program}")


@pytest.mark.parametrize("unit", unit_files(), ids=lambda p: p.name)
def test_the_units_run_in_the_checkout_with_the_settings_file(unit):
    values = dict(directives(unit))
    assert values["WorkingDirectory"] == CHECKOUT
    files = [v for k, v in directives(unit) if k == "EnvironmentFile"]
    assert files[0] == "/etc/stratus/stratus.env"
    for name in files:
        assert (UNITS / Path(name.lstrip("-")).name).is_file(), name


def test_the_guide_shows_the_nginx_example_as_it_is_in_the_repository():
    guide = (ROOT / "docs" / "deployment.md").read_text()
    shown = re.search(r"```nginx\n(.*?)```", guide, re.S).group(1)
    example = (ROOT / "deploy" / "nginx" / "stratus.conf").read_text()
    assert shown.strip() and shown in example


def test_the_example_settings_are_accepted(tmp_path):
    env = {**env_file(UNITS / "stratus.env"), **env_file(UNITS / "compute.env")}
    assert re.match(r"postgresql://", env["DATABASE_URL"])
    env["STRATUS_DATA_DIR"] = str(tmp_path / "data")
    code = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], sorted(settings.IMAGE_STORES), "
        "settings.SECURE_SSL_REDIRECT, settings.CONSOLE_VNC_LISTEN)"
    )
    result = run([sys.executable, "-c", code], {**env, "DJANGO_SETTINGS_MODULE": "dashboard.settings"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "['s3']", "True", "10.0.0.21:5900"]
