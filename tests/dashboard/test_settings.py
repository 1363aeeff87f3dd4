"""Settings come from typed environment variables and refuse bad values loudly."""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys

import pytest
from osc_lib import utils as osc_utils

from tests.support.processes import ROOT


def load_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DEBUG", "PORT", "SECRET_KEY")}
    full.update(STRATUS_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="dashboard.settings", **env)
    code = (
        "from django.conf import settings;"
        "print(settings.DEBUG, settings.PORT, settings.DATABASES['default']['ENGINE'])"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", "http://nope"),
        ("SECRET_KEY", "short"),
        ("STRATUS_TOKEN_EXPIRATION", "soon"),
        ("STRATUS_IMAGE_SCRUB_INTERVAL", "hourly"),
        ("STRATUS_IMAGE_SCRUB_BYTES_PER_SECOND", "-1"),
        ("STRATUS_IMAGE_SCRUB_IMAGES_PER_RUN", "0"),
    ],
)
def test_a_bad_value_stops_start_up_with_a_message_naming_the_variable(tmp_path, name, value):
    result = load_settings(tmp_path, **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_defaults_are_safe(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "8000", "django.db.backends.sqlite3"]
    assert (tmp_path / "data").is_dir()


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {
        **os.environ,
        "STRATUS_DATA_DIR": str(tmp_path / "d"),
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
    env.pop("SECRET_KEY", None)
    first = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    key_file = tmp_path / "d" / "secret_key"
    assert first.stdout == second.stdout and len(first.stdout.strip()) >= 50
    assert key_file.read_text().strip() == first.stdout.strip()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_postgresql_urls_are_accepted(tmp_path):
    result = load_settings(tmp_path, DATABASE_URL="postgres://stratus:pw@db.example:5432/stratus")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[2] == "django.db.backends.postgresql"


def test_web_keep_alive_outlasts_the_openstack_clis_polling():
    """`openstack … --wait` polls every few seconds on one kept-alive connection; a server that
    closes idle connections at that same interval resets the poll that arrives just then."""
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "dashboard" / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    poll = inspect.signature(osc_utils.wait_for_status).parameters["sleep_time"].default
    assert conf.keepalive >= 10 * poll
