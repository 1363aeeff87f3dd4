"""What an instance learns about itself, as cloud-init reads it on OpenStack: the documents of the
metadata service (behind 169.254.169.254) and, later, of the config drive (the same files on an
ISO 9660 disk labelled config-2). Written once, for both.

OpenStack layout: ``openstack/<version>/{meta_data.json, user_data, network_data.json,
vendor_data.json, vendor_data2.json}``. EC2 layout: ``<version>/meta-data/<key>`` and
``<version>/user-data``.
"""

from __future__ import annotations

import base64
import json
import re

from instances.models import Instance

# The OpenStack metadata versions clients may ask for; each has the same documents here.
OPENSTACK_VERSIONS = ("2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06",
                      "2017-02-22", "2018-08-27", "2020-10-14", "latest")  # fmt: skip
EC2_VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
                "2008-09-01", "2009-04-04", "latest")  # fmt: skip


def hostname(instance: Instance) -> str:
    """The host name asked for (2.90+), else the instance's name as a DNS label (what the guest
    sets as its host name)."""
    if instance.hostname:
        return instance.hostname
    label = re.sub(r"[^a-z0-9-]+", "-", instance.name.lower()).strip("-")[:63].strip("-")
    return label or f"instance-{str(instance.pk)[:8]}"


def user_data(instance: Instance) -> bytes | None:
    """The user data as the guest gets it: decoded (the API took it base64-encoded)."""
    return base64.b64decode(instance.user_data) if instance.user_data else None


def meta_data(instance: Instance) -> dict:
    data = {
        "uuid": str(instance.pk),
        "name": instance.name,
        "hostname": hostname(instance),
        "project_id": instance.project_id,
        "availability_zone": instance.availability_zone,
        "launch_index": instance.launch_index,
        "meta": dict(instance.metadata or {}),
        "devices": [],
    }
    if instance.key_name:
        data["public_keys"] = {instance.key_name: instance.key_data}
        data["keys"] = [{"name": instance.key_name, "type": "ssh", "data": instance.key_data}]
    return data


def network_data(instance: Instance) -> dict:
    """The instance's NIC and that it takes its address by DHCP (Nova's network_data.json)."""
    if not instance.address:
        return {"links": [], "networks": [], "services": []}
    link = f"tap{str(instance.pk)[:11]}"
    return {
        "links": [{"id": link, "type": "phy", "ethernet_mac_address": instance.mac_address, "mtu": 1500}],
        "networks": [
            {"id": "network0", "type": "ipv4_dhcp", "link": link, "network_id": str(instance.network_id)}
        ],
        "services": [],
    }


def openstack_files(instance: Instance, version: str = "latest") -> dict[str, bytes]:
    """The files of ``openstack/<version>/``, by name."""
    files = {
        "meta_data.json": json.dumps(meta_data(instance)).encode(),
        "network_data.json": json.dumps(network_data(instance)).encode(),
        "vendor_data.json": b"{}",
        "vendor_data2.json": b"{}",
    }
    data = user_data(instance)
    if data is not None:
        files["user_data"] = data
    return files


def ec2_meta_data(instance: Instance) -> dict:
    """The EC2-style keys cloud-init also reads, as a tree (dicts are directories)."""
    tree: dict = {
        "ami-id": f"ami-{instance.image_id[:8]}" if instance.image_id else "",
        "ami-launch-index": str(instance.launch_index),
        "hostname": hostname(instance),
        "instance-id": f"i-{str(instance.pk)[:8]}",
        "instance-type": instance.flavor_name,
        "local-hostname": hostname(instance),
        "local-ipv4": instance.address or "",
        "placement": {"availability-zone": instance.availability_zone},
        "reservation-id": instance.reservation_id,
    }
    if instance.key_name:
        tree["public-keys"] = {"0": {"openssh-key": instance.key_data}}
    return tree


def document(instance: Instance, path: str) -> tuple[str, bytes] | None:
    """(content type, body) of a metadata-service ``path`` for ``instance``; None: no such document."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts == ["openstack"]:
        return "text/plain", "\n".join(OPENSTACK_VERSIONS).encode()
    if len(parts) in (2, 3) and parts[0] == "openstack" and parts[1] in OPENSTACK_VERSIONS:
        files = openstack_files(instance, parts[1])
        if len(parts) == 2:
            return "text/plain", "\n".join(sorted(files)).encode()
        body = files.get(parts[2])
        if body is None:
            return None
        return ("application/json" if parts[2].endswith(".json") else "application/octet-stream"), body
    if not parts:
        return "text/plain", "\n".join(EC2_VERSIONS).encode()
    if parts[0] in EC2_VERSIONS:
        return _ec2(instance, parts[1:])
    return None


def _ec2(instance: Instance, parts: list[str]) -> tuple[str, bytes] | None:
    if not parts:
        return "text/plain", b"meta-data/\nuser-data" if instance.user_data else b"meta-data/"
    if parts == ["user-data"]:
        data = user_data(instance)
        return ("application/octet-stream", data) if data is not None else None
    if parts[0] != "meta-data":
        return None
    node: dict | str = ec2_meta_data(instance)
    for part in parts[1:]:
        if part == "public-keys" and isinstance(node, dict) and part in node and len(parts) == 2:
            # EC2 lists the keys as "<index>=<name>".
            return "text/plain", f"0={instance.key_name}".encode()
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, dict):
        listing = [f"{k}/" if isinstance(v, dict) else k for k, v in sorted(node.items())]
        return "text/plain", "\n".join(listing).encode()
    return "text/plain", node.encode()
