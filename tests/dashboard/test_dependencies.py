"""`make run` installs only the runtime dependencies: everything the apps import must come from them,
not from something the test extra happens to install too."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
import tomllib

from tests.support.processes import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def runtime_closure() -> set[str]:
    """The runtime requirements of pyproject.toml and, through the installed metadata, theirs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [_name(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for requirement in requires:
            # Only unconditional requirements, or those for the extras the project asks for.
            marker = requirement.split(";", 1)[1] if ";" in requirement else ""
            if "extra ==" in marker and not any(e in marker for e in ('"redis"', '"binary"')):
                continue
            todo.append(_name(requirement))
    return seen


LOAD_EVERYTHING = """
import importlib, importlib.abc, json, pkgutil, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    # What a runtime-only install lacks: the packages only the test extra brings.
    blocked = set(json.loads(sys.argv[1]))

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
import django
django.setup()
for package in ("dashboard", "images", "instances"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if ".migrations." not in info.name:
            importlib.import_module(info.name)
print("ok")
"""


def test_the_apps_import_with_only_the_runtime_dependencies_installed(tmp_path):
    # A fresh interpreter in which every package outside the runtime closure cannot be imported:
    # optional imports fall back as they would, a missing requirement fails.
    allowed = runtime_closure() | {"stratus"}
    blocked = sorted(
        top for top, dists in md.packages_distributions().items() if not {_name(d) for d in dists} & allowed
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "STRATUS_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_EVERYTHING, json.dumps(blocked)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
    assert "playwright" in blocked and "moto" in blocked  # the test tools really are withheld
