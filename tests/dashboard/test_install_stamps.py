"""`make run` installs what the configured database needs, also in a checkout that ran on SQLite
before, and a missing PostgreSQL driver stops start-up with a message that says what to install."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, require

POSTGRES_INSTALL = "pip install -q -c requirements.lock -e '.[postgresql]'"


@pytest.fixture
def sqlite_venv(tmp_path):
    """A virtualenv that `make run` set up on SQLite: its python and its install stamp, both newer
    than pyproject.toml and requirements.lock."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".run-installed").touch()
    return venv


def planned(venv, env_database_url: str | None = None) -> str:
    """What `make run` would do (``make -n``), with DATABASE_URL set in the environment as a user sets it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MAKEFLAGS", "MAKELEVEL")}
    if env_database_url:
        env["DATABASE_URL"] = env_database_url
    result = subprocess.run(
        [require("make"), "-n", "-C", str(ROOT), "run", f"VENV={venv}"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def test_a_checkout_that_ran_on_sqlite_installs_the_postgresql_driver_when_the_url_names_postgresql(
    sqlite_venv,
):
    assert "pip install" not in planned(sqlite_venv)
    for url in ("postgresql://stratus@db.example/stratus", "postgres://stratus@%2Frun%2Fpostgresql/stratus"):
        assert POSTGRES_INSTALL in planned(sqlite_venv, url)


def test_once_installed_for_postgresql_nothing_is_installed_again_for_either_backend(sqlite_venv):
    (sqlite_venv / ".run-installed-postgresql").touch()
    assert "pip install" not in planned(sqlite_venv, "postgresql://stratus@db.example/stratus")
    assert "pip install" not in planned(sqlite_venv)


def test_a_missing_postgresql_driver_stops_start_up_with_what_to_install(tmp_path):
    code = (
        "import sys; sys.modules['psycopg'] = sys.modules['psycopg2'] = None;"
        "from django.conf import settings; settings.DATABASES"
    )
    env = {
        **os.environ,
        "STRATUS_DATA_DIR": str(tmp_path / "data"),
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": "postgresql://stratus@db.example/stratus",
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "psycopg is not installed" in result.stderr and "[postgresql]" in result.stderr
