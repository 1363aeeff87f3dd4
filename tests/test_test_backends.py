"""scripts/test-backends, which `make test` runs: the backends' runs side by side, where a failure in
a run in the background fails the whole and its output is shown."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs twice, on SQLite both times; the second run's temporary files are under "1-sqlite".
PROBE = """
import pytest

{mark}

def test_probe(tmp_path):
    assert "1-sqlite" not in str(tmp_path), "the run in the background fails here"
"""


def backends(tmp_path: Path, mark: str) -> subprocess.CompletedProcess:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE.format(mark=mark))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRATUS_", "PYTEST_"))}
    env["PYTEST_ARGS"] = f"-q -c {ROOT / 'pyproject.toml'} --rootdir {ROOT} {probe}"
    return subprocess.run(
        [str(ROOT / "scripts" / "test-backends"), "sqlite", "sqlite"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_failing_run_in_the_background_fails_the_whole_with_its_output(tmp_path):
    done = backends(tmp_path, "pytestmark = pytest.mark.django_db")
    assert done.returncode == 1, done.stdout + done.stderr
    first, _, second = done.stdout.partition("== the suite on sqlite (the tests that touch the database)")
    assert "1 passed" in first, done.stdout
    assert "the run in the background fails here" in second and "1 failed" in second, done.stdout


def test_a_selection_without_database_tests_passes_on_the_other_backends(tmp_path):
    done = backends(tmp_path, "")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no test of the selection touches the database: nothing to run on sqlite" in done.stdout
    assert "1 passed" in done.stdout
