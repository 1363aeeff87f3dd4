"""The config drive: the instance's metadata documents on an ISO 9660 image labelled ``config-2``,
which cloud-init finds by its label when no metadata service answers (Nova's config drive).

It knows no models: it takes the files (``openstack/latest/meta_data.json`` and so on) as bytes.
Rock Ridge and Joliet extensions keep the long, lower-case names that cloud-init reads.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pycdlib

from instances.virt.base import VirtError

LABEL = "config-2"


def _iso_name(part: str) -> str:
    """The plain ISO 9660 name of one path component (Rock Ridge and Joliet carry the real one)."""
    return "".join(c if c.isalnum() else "_" for c in part.upper())[:30]


def write(path: Path, files: dict[str, bytes]) -> Path:
    """Write the config drive to ``path`` (atomically: a temporary file renamed into place)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=LABEL, joliet=3, rock_ridge="1.09")
    made: set[str] = set()
    try:
        for name in sorted(files):
            parts = [p for p in name.split("/") if p]
            if not parts or any(p in (".", "..") for p in parts):
                raise VirtError(f"invalid config drive path {name!r}")
            iso_parts = [_iso_name(p) for p in parts]
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in made:
                    iso_dir = "/" + "/".join(iso_parts[:depth])
                    iso.add_directory(iso_dir, rr_name=parts[depth - 1], joliet_path="/" + directory)
                    made.add(directory)
            data = files[name]
            iso_file = "/" + "/".join(iso_parts) + ";1"
            iso.add_fp(io.BytesIO(data), len(data), iso_file, rr_name=parts[-1], joliet_path="/" + name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".configdrive-")
        with os.fdopen(fd, "wb") as out:
            iso.write_fp(out)
        os.replace(temporary, path)
    except pycdlib.pycdlibexception.PyCdlibException as exc:
        raise VirtError(f"could not write the config drive {path}: {exc}") from exc
    finally:
        iso.close()
    return path
