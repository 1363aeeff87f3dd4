"""Loaded before Django is set up (``-p tests.plugin``): the suite gets its own data dir and a real Redis."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_root = Path(tempfile.mkdtemp(prefix="stratus-tests-"))
os.environ["STRATUS_DATA_DIR"] = str(_root / "data")
os.environ.pop("DATABASE_URL", None)
if os.environ.get("STRATUS_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["STRATUS_TEST_DATABASE_URL"]
for _name in ("STRATUS_POLICY_FILE", "SECRET_KEY", "DEBUG"):
    os.environ.pop(_name, None)

from tests.support.processes import RedisServer  # noqa: E402

_redis = RedisServer(_root / "redis")
os.environ["REDIS_URL"] = _redis.url

TEST_ROOT = _root


def _clean_up() -> None:
    _redis.stop()
    shutil.rmtree(_root, ignore_errors=True)


# Also when pytest stops before configuring (a usage error): Redis started on import.
atexit.register(_clean_up)


def pytest_unconfigure(config) -> None:
    _clean_up()
