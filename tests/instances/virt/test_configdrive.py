"""The config drive as cloud-init finds it: an ISO 9660 image labelled config-2 with the documents
under their real names (read back here with pycdlib's Rock Ridge and Joliet views, and with blkid)."""

from __future__ import annotations

import io
import subprocess

import pycdlib
import pytest

from instances.virt import configdrive
from instances.virt.base import VirtError
from tests.support.processes import require

FILES = {
    "openstack/latest/meta_data.json": b'{"uuid": "u-1", "name": "web"}',
    "openstack/latest/user_data": b"#!/bin/sh\necho hello\n",
    "openstack/latest/vendor_data.json": b"{}",
    "openstack/latest/vendor_data2.json": b"{}",
    "openstack/2013-10-17/meta_data.json": b'{"uuid": "u-1"}',
    "ec2/latest/meta-data.json": b"{}",
}


def read_back(path) -> dict[str, bytes]:
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        found = {}
        for root, _dirs, names in iso.walk(rr_path="/"):
            for name in names:
                rr = f"{root.rstrip('/')}/{name}"
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path=rr)
                found[rr.lstrip("/")] = out.getvalue()
        return found
    finally:
        iso.close()


def test_the_drive_is_labelled_config_2_and_holds_every_file_under_its_name(tmp_path):
    path = configdrive.write(tmp_path / "disk.config", FILES)
    assert read_back(path) == FILES
    blkid = subprocess.run([require("blkid"), "-o", "export", str(path)], capture_output=True, text=True)
    fields = dict(line.split("=", 1) for line in blkid.stdout.split())
    assert (fields["LABEL"], fields["TYPE"]) == ("config-2", "iso9660")
    assert not list(tmp_path.glob(".configdrive-*"))  # written to a temporary file, then renamed


def test_a_path_that_leaves_the_drive_is_refused(tmp_path):
    with pytest.raises(VirtError, match="invalid config drive path"):
        configdrive.write(tmp_path / "disk.config", {"openstack/../../etc/passwd": b"x"})
    assert not (tmp_path / "disk.config").exists()
