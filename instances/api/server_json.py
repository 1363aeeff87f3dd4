"""Servers in the shape of the request's microversion (Nova's views/servers.py).

2.1 is the plain shape Tempest validates with ``additionalProperties: false``: ``flavor`` is
``{id, links}`` and nothing newer appears. Newer fields are added at the version Nova added
them; ≥2.47 embeds the flavor's sizes instead of linking to it.
"""

from __future__ import annotations

import hashlib
import ipaddress

from dashboard.api.compute import compute_url
from dashboard.api.urls import base_url
from instances.choices import VmState
from instances.models import Instance, ServerGroupMember
from instances.services import guest_metadata


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _usage_time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def server_links(request, server_id) -> list[dict]:
    base = compute_url(request)
    return [
        {"rel": "self", "href": f"{base}/v2.1/servers/{server_id}"},
        {"rel": "bookmark", "href": f"{base}/servers/{server_id}"},
    ]


def image_ref(request, instance: Instance):
    if not instance.image_id:
        return ""  # boot from volume
    return {
        "id": instance.image_id,
        "links": [{"rel": "bookmark", "href": f"{compute_url(request)}/images/{instance.image_id}"}],
    }


def flavor_ref(request, instance: Instance) -> dict:
    if request.api_version >= "2.47":
        return {
            "vcpus": instance.vcpus,
            "ram": instance.memory_mb,
            "disk": instance.root_gb,
            "ephemeral": instance.ephemeral_gb,
            "swap": instance.swap_mb,
            "original_name": instance.flavor_name,
            "extra_specs": instance.flavor_extra_specs,
        }
    return {
        "id": instance.flavor_ref,
        "links": [{"rel": "bookmark", "href": f"{compute_url(request)}/flavors/{instance.flavor_ref}"}],
    }


def addresses(instance: Instance) -> dict:
    """The fixed address on the project network, then the public address of the instance's port
    forwards as a "floating" one, where Nova lists a floating IP: ``openstack server show`` and
    ``server list`` print it, SDK users find it with the floating type. The ports themselves are in
    ``os-port-forwards`` (an address entry has no room for them in Nova's schema)."""
    if not instance.address or instance.vm_state == VmState.DELETED:
        return {}
    name = instance.network.name if instance.network is not None else "private"
    mac = instance.mac_address
    entries = [
        {"version": 4, "addr": instance.address, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}
    ]
    public = sorted({f.endpoint for f in instance.port_forwards.all()})
    for addr in public:
        try:
            version = ipaddress.ip_address(addr).version
        except ValueError:
            continue  # a host name (STRATUS_PORT_FORWARD_PUBLIC_HOST): not an address entry
        entries.append(
            {"version": version, "addr": addr, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": mac}
        )
    return {name: entries}


def host_id(instance: Instance) -> str:
    # Nova: an opaque per-project hash of the host, so users see co-location but not the name.
    if instance.host_id is None:
        return ""
    return hashlib.sha224(f"{instance.project_id}{instance.host.name}".encode()).hexdigest()


def fault(instance: Instance, admin: bool) -> dict | None:
    if instance.vm_state != VmState.ERROR or not instance.fault_message:
        return None
    out = {
        "code": instance.fault_code or 500,
        "created": _time(instance.fault_at),
        "message": instance.fault_message,
    }
    if admin and instance.fault_details:
        out["details"] = instance.fault_details
    return out


def volumes_attached(instance: Instance, version) -> list[dict]:
    """Nova's os-extended-volumes: the attached volumes' ids, with delete_on_termination from
    2.3. Reads ``volume_attachments`` (prefetched by the server lists: one query for a page)."""
    attachments = instance.volume_attachments.all()
    if version >= "2.3":
        return [
            {"id": str(a.volume_id), "delete_on_termination": a.delete_on_termination} for a in attachments
        ]
    return [{"id": str(a.volume_id)} for a in attachments]


def disk_config(instance: Instance) -> str:
    return "AUTO" if instance.auto_disk_config else "MANUAL"


def server_summary(request, instance: Instance) -> dict:
    return {"id": str(instance.pk), "name": instance.name, "links": server_links(request, instance.pk)}


def server_detail(request, instance: Instance, *, admin_attrs: bool, admin: bool) -> dict:
    version = request.api_version
    building = instance.vm_state == VmState.BUILDING
    out: dict = {
        "id": str(instance.pk),
        "name": instance.name,
        "status": instance.status,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id or "",
        "metadata": instance.metadata,
        "hostId": host_id(instance),
        "image": image_ref(request, instance),
        "flavor": flavor_ref(request, instance),
        "created": _time(instance.created_at),
        "updated": _time(instance.updated_at),
        "addresses": addresses(instance),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": instance.access_ip_v6 or "",
        "links": server_links(request, instance.pk),
        "OS-DCF:diskConfig": disk_config(instance),
        "OS-EXT-AZ:availability_zone": instance.availability_zone,
        "config_drive": "True" if instance.config_drive else "",
        "key_name": instance.key_name or None,
        "OS-SRV-USG:launched_at": _usage_time(instance.launched_at),
        "OS-SRV-USG:terminated_at": _usage_time(instance.terminated_at),
        "OS-EXT-STS:task_state": instance.task_state or None,
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:power_state": instance.power_state,
        "os-extended-volumes:volumes_attached": volumes_attached(instance, version),
    }
    if instance.security_groups:  # Nova leaves the key out for a server in no group
        out["security_groups"] = [{"name": name} for name in instance.security_groups]
    if building or instance.vm_state == VmState.ACTIVE:
        out["progress"] = 100 if instance.vm_state == VmState.ACTIVE else 0
    if admin_attrs:
        out["OS-EXT-SRV-ATTR:host"] = instance.host.name if instance.host_id else None
        out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.host.name if instance.host_id else None
        out["OS-EXT-SRV-ATTR:instance_name"] = f"instance-{instance.pk}"
        if version >= "2.3":
            out.update(
                {
                    "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id,
                    "OS-EXT-SRV-ATTR:launch_index": instance.launch_index,
                    "OS-EXT-SRV-ATTR:hostname": guest_metadata.hostname(instance),
                    "OS-EXT-SRV-ATTR:kernel_id": (instance.image_properties or {}).get("kernel_id", ""),
                    "OS-EXT-SRV-ATTR:ramdisk_id": (instance.image_properties or {}).get("ramdisk_id", ""),
                    "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                    "OS-EXT-SRV-ATTR:user_data": instance.user_data or None,
                }
            )
    if version >= "2.9":
        out["locked"] = instance.locked
    if version >= "2.19":
        out["description"] = instance.description or None
    if version >= "2.26":
        out["tags"] = instance.tag_names
    if version >= "2.63":
        out["trusted_image_certificates"] = None
    if version >= "2.73":
        out["locked_reason"] = instance.locked_reason or None
    if version >= "2.96":
        out["pinned_availability_zone"] = None
    problem = fault(instance, admin)
    if problem is not None:
        out["fault"] = problem
    return out


def image_location(request, image_id) -> str:
    return f"{base_url(request)}/image/v2/images/{image_id}"


def server_group_ids(instance: Instance) -> list[str]:
    return [
        str(pk)
        for pk in ServerGroupMember.objects.filter(instance=instance).values_list("group_id", flat=True)
    ]


# What Nova leaves out of the server it answers an update or a rebuild with, until 2.75 made those
# answers the whole server as GET shows it.
_NOT_IN_CHANGE_VIEW = {"config_drive", "host_status", "key_name", "security_groups"}
_NOT_IN_CHANGE_VIEW_PREFIXES = (
    "OS-EXT-AZ:",
    "OS-EXT-SRV-ATTR:",
    "OS-SRV-USG:",
    "OS-EXT-STS:",
    "os-extended-volumes:",
)


def changed_server(
    request, instance: Instance, *, admin_attrs: bool, admin: bool, rebuild: bool = False
) -> dict:
    """The server in the answer to ``PUT /servers/{id}`` and to a rebuild (Nova's update and
    _rebuild views): before 2.75 without the extended attributes and the address extensions (a
    rebuild shows key_name from 2.54); from 2.75 as GET shows it, server groups included (2.71)."""
    body = server_detail(request, instance, admin_attrs=admin_attrs, admin=admin)
    version = request.api_version
    if rebuild and version >= "2.57":  # the user data the rebuild gave (or kept), base64
        body["user_data"] = instance.user_data or None
    if version >= "2.75":
        body["server_groups"] = server_group_ids(instance)
        return body
    keep_key_name = rebuild and version >= "2.54"
    for key in list(body):
        if key == "key_name" and keep_key_name:
            continue
        if key in _NOT_IN_CHANGE_VIEW or key.startswith(_NOT_IN_CHANGE_VIEW_PREFIXES):
            del body[key]
    body["addresses"] = {
        network: [{"version": entry["version"], "addr": entry["addr"]} for entry in entries]
        for network, entries in body["addresses"].items()
    }
    return body
