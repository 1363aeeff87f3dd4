"""Request bodies of the servers API, checked as Nova's JSON schemas check them (400 naming the
field). Only what Stratus can honour is accepted; anything else is refused, not ignored."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dashboard.api.microversion import APIVersion
from dashboard.api.schemas import boolean, integer, invalid, required_object, resource_name
from dashboard.exceptions import BadRequest
from instances.services import consoles, server_edit, servers


@dataclass
class CreateRequest:
    name: str
    image_ref: str
    flavor_ref: str
    min_count: int = 1
    max_count: int = 1
    availability_zone: str | None = None
    force_host: str | None = None
    metadata: dict = field(default_factory=dict)
    description: str = ""
    return_reservation_id: bool = False
    # block_device_mapping_v2 with a volume as the root disk: source ("image" or "volume"),
    # uuid, volume_size, delete_on_termination.
    boot_volume: dict | None = None
    key_name: str = ""
    user_data: str = ""  # base64, as sent
    config_drive: bool = False
    server_group: str | None = None  # os:scheduler_hints group
    tags: list[str] = field(default_factory=list)
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    # Answered back as Nova does (its own is generated otherwise); like the one a rebuild or a
    # rescue returns, no agent in the guest applies it.
    admin_pass: str | None = None
    disk_config: str | None = None  # AUTO or MANUAL; None: as the image's auto_disk_config says
    hostname: str = ""  # 2.90+; "" derives the guest's host name from the server's name


# The create request's keys, by the microversion Nova added them in. A key Stratus cannot honour
# is refused by name below (NOT_HONOURED); a key Nova does not know is refused as Nova's
# schema refuses it (additionalProperties: false).
_CREATE_KEYS = {
    "2.1": (
        "name",
        "imageRef",
        "flavorRef",
        "adminPass",
        "metadata",
        "networks",
        "OS-DCF:diskConfig",
        "accessIPv4",
        "accessIPv6",
        "personality",
        "key_name",
        "availability_zone",
        "block_device_mapping",
        "block_device_mapping_v2",
        "config_drive",
        "min_count",
        "max_count",
        "return_reservation_id",
        "security_groups",
        "user_data",
    ),
    "2.19": ("description",),
    "2.52": ("tags",),
    "2.63": ("trusted_image_certificates",),
    "2.74": ("host", "hypervisor_hostname"),
    "2.90": ("hostname",),
}
NOT_HONOURED = {
    "personality": "File injection (personality) is not supported; use user_data or a config drive.",
    "block_device_mapping": "The legacy block_device_mapping is not supported; use block_device_mapping_v2.",
    "host": "Requesting a host is not supported; use availability_zone AZ:HOST.",
    "hypervisor_hostname": "Requesting a hypervisor is not supported; use availability_zone AZ:HOST.",
}
DISK_CONFIGS = ("AUTO", "MANUAL")
_HOSTNAME = re.compile(r"^[a-zA-Z0-9-._]+$")


def disk_config(data: dict) -> str | None:
    """``OS-DCF:diskConfig``: AUTO, MANUAL or absent (None)."""
    value = data.get("OS-DCF:diskConfig")
    if value is None:
        return None
    if value not in DISK_CONFIGS:
        raise invalid("OS-DCF:diskConfig", value, "It must be AUTO or MANUAL.")
    return value


def hostname(data: dict, version: APIVersion) -> str | None:
    """Nova's ``hostname`` (2.90+): letters, digits, '-', '.' and '_'; a label of at most 63
    characters until 2.94, a fully qualified name of at most 255 from 2.94."""
    value = data.get("hostname")
    if value is None:
        return None
    longest = 255 if version >= "2.94" else 63
    if not isinstance(value, str) or not _HOSTNAME.match(value) or len(value) > longest:
        raise invalid("hostname", value, f"It must be 1 to {longest} letters, digits, '-', '.' or '_'.")
    return value


# Scheduler hints Stratus honours (os:scheduler_hints); any other hint is refused.
SCHEDULER_HINTS: tuple[str, ...] = ("group",)


def _unexpected(keys, field_name: str) -> BadRequest:
    listed = ", ".join(repr(k) for k in sorted(keys))
    verb = "were" if len(keys) > 1 else "was"
    return BadRequest(
        f"Invalid input for field/attribute {field_name}. Additional properties are not allowed "
        f"({listed} {verb} unexpected)"
    )


def _check_create_keys(body: dict, server: dict, version: APIVersion) -> None:
    top = set(body) - {"server", "os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"}
    if top:
        raise _unexpected(top, "root")
    known = {k for since, keys in _CREATE_KEYS.items() if version >= since for k in keys}
    if version >= "2.57":
        known.discard("personality")
    unknown = set(server) - known
    if unknown:
        raise _unexpected(unknown, "server")
    for key, reason in NOT_HONOURED.items():
        if server.get(key) not in (None, "", [], {}):
            raise invalid(key, server[key], reason)
    if server.get("trusted_image_certificates") not in (None, []):
        raise invalid("trusted_image_certificates", "...", "Trusted image certificates are not supported.")
    for name in ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"):
        hints = body.get(name)
        if hints is None:
            continue
        if not isinstance(hints, dict):
            raise invalid(name, hints, f"{hints!r} is not of type 'object'")
        refused = set(hints) - set(SCHEDULER_HINTS)
        if refused:
            raise invalid(name, hints, f"Scheduler hints {sorted(refused)} are not supported.")


def _security_groups(value: Any) -> None:
    """Every server is in its project's ``default`` group (see Instance.security_groups); there
    are no other groups to ask for."""
    if value in (None, []):
        return
    if not isinstance(value, list) or any(not isinstance(g, dict) or set(g) != {"name"} for g in value):
        raise invalid("security_groups", value, "It must be a list of {'name': ...} objects.")
    for group in value:
        if group["name"] != "default":
            raise BadRequest(f"Security group {group['name']} not found.")


def _last_segment(ref: Any, field_name: str) -> str:
    """imageRef/flavorRef may be an id or a URL ending in it."""
    if not isinstance(ref, str | int) or isinstance(ref, bool) or str(ref).strip() == "":
        raise invalid(field_name, ref, "It must be a non-empty string.")
    return str(ref).rstrip("/").rsplit("/", 1)[-1]


def _networks(server: dict, version: APIVersion) -> None:
    """Every instance gets its project's private network; "none" still gets its address (the
    guest's user-mode NIC), as ``addresses`` must never be empty for an ACTIVE server."""
    if "networks" not in server:
        if version >= "2.37":
            raise BadRequest("Invalid input for field/attribute networks. 'networks' is a required property")
        return
    value = server["networks"]
    if isinstance(value, str):
        if version < "2.37" or value not in ("none", "auto"):
            raise invalid("networks", value, "It must be 'auto', 'none' or a list of networks.")
        return
    if not isinstance(value, list) or any(not isinstance(n, dict) for n in value):
        raise invalid("networks", value, "It must be 'auto', 'none' or a list of networks.")
    for net in value:
        if "port" in net and net["port"]:
            raise invalid("networks", value, "Ports are not supported; give a network uuid or 'auto'.")
        unknown = set(net) - {"uuid", "port", "fixed_ip", "tag"}
        if unknown:
            raise _unexpected(unknown, "networks")
        if net.get("fixed_ip") not in (None, ""):
            raise invalid("networks", value, "fixed_ip is not supported: the network gives the next address.")
        if net.get("tag") not in (None, ""):
            raise invalid("networks", value, "Device tags are not supported.")


# What a block device mapping may say; Nova's other fields are refused unless empty.
BDM_FIELDS = ("source_type", "destination_type", "uuid", "boot_index", "volume_size", "delete_on_termination")


def _check_bdm_fields(server: dict) -> None:
    bdms = server.get("block_device_mapping_v2")
    if not isinstance(bdms, list):
        return
    for bdm in bdms:
        if not isinstance(bdm, dict):
            continue
        for key, value in bdm.items():
            if key in BDM_FIELDS or value in (None, ""):
                continue
            if (
                key == "device_name"
                and value in ("vda", "/dev/vda")
                and str(bdm.get("boot_index", "0")) == "0"
            ):
                continue
            raise invalid(
                "block_device_mapping_v2",
                bdm,
                f"{key} is not supported; a mapping says only {', '.join(BDM_FIELDS)}.",
            )


def _boot_volume(server: dict) -> dict | None:
    """The root disk as a volume (source image or volume → destination volume, boot_index 0)."""
    bdms = server.get("block_device_mapping_v2")
    if not isinstance(bdms, list) or not bdms:
        return None
    roots = [b for b in bdms if isinstance(b, dict) and b.get("destination_type") == "volume"]
    if not roots:
        return None
    if len(bdms) != 1 or str(roots[0].get("boot_index", "0")) != "0":
        raise BadRequest("Only one block device mapping, the boot volume with boot_index 0, is supported.")
    bdm = roots[0]
    source = bdm.get("source_type")
    if source not in ("image", "volume"):
        raise BadRequest(f"Block device mapping {source} → volume is not supported (use image or volume).")
    size = bdm.get("volume_size")
    if source == "image":
        if isinstance(size, str) and size.isdigit():
            size = int(size)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise invalid("volume_size", size, "It must be an integer of at least 1.")
    dot = bdm.get("delete_on_termination", False)
    return {
        "source": source,
        "uuid": _last_segment(bdm.get("uuid"), "uuid"),
        "volume_size": size,
        "delete_on_termination": boolean("delete_on_termination", dot) if dot not in (None, "") else False,
    }


def _boot_image(server: dict) -> str:
    image = server.get("imageRef")
    bdms = server.get("block_device_mapping_v2")
    if bdms is None:
        if image in (None, ""):
            raise BadRequest("Invalid input for field/attribute imageRef. 'imageRef' is a required property")
        return _last_segment(image, "imageRef")
    if not isinstance(bdms, list):
        raise invalid("block_device_mapping_v2", bdms, "It must be a list.")
    boot = None
    for bdm in bdms:
        if not isinstance(bdm, dict):
            raise invalid("block_device_mapping_v2", bdm, "Each mapping must be an object.")
        source, dest = bdm.get("source_type"), bdm.get("destination_type", "local")
        if source != "image" or dest != "local":
            raise BadRequest(
                f"Block device mapping {source} → {dest} is not supported; "
                "only an image copied to a local root disk (source_type image, destination_type local)."
            )
        if str(bdm.get("boot_index", "0")) not in ("0",):
            raise BadRequest("Only one image mapping, with boot_index 0, is supported.")
        boot = bdm
    if boot is None:
        raise BadRequest("Invalid input for field/attribute imageRef. 'imageRef' is a required property")
    ref = boot.get("uuid") or image
    if image not in (None, "") and boot.get("uuid") and _last_segment(image, "imageRef") != boot["uuid"]:
        raise BadRequest("The image of block_device_mapping_v2 differs from imageRef.")
    return _last_segment(ref, "uuid")


def _zone(server: dict) -> tuple[str | None, str | None]:
    """availability_zone "AZ", "AZ:HOST" or ":HOST" (Nova's forced host syntax)."""
    value = server.get("availability_zone")
    if value in (None, ""):
        return None, None
    if not isinstance(value, str) or len(value) > 255:
        raise invalid("availability_zone", value, "It must be a string of at most 255 characters.")
    zone, _, host = value.partition(":")
    host = host.partition(":")[0]  # AZ:HOST:NODE; nodes are hosts here
    return zone or None, host or None


def server_create(body: Any, version: APIVersion) -> CreateRequest:
    if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
        raise BadRequest("Invalid input for field/attribute server. 'server' is a required property")
    server = body["server"]
    _check_create_keys(body, server, version)
    name = resource_name(server)
    if "flavorRef" not in server:
        raise BadRequest("Invalid input for field/attribute flavorRef. 'flavorRef' is a required property")
    min_count = integer(server, "min_count", 1, default=1)
    max_count = integer(server, "max_count", 1, default=min_count)
    if min_count > max_count:
        raise BadRequest("min_count must be <= max_count")
    metadata = server_edit.check_metadata(server.get("metadata") or {})
    server_edit.check_metadata_quota(metadata)
    key_name = server.get("key_name") or ""
    if not isinstance(key_name, str) or len(key_name) > 255:
        raise invalid("key_name", key_name, "It must be the name of one of your key pairs.")
    description = _description(server)
    _networks(server, version)
    _check_bdm_fields(server)
    _security_groups(server.get("security_groups"))
    zone, host = _zone(server)
    reservation = server.get("return_reservation_id", False)
    boot_volume = _boot_volume(server)
    host_name = hostname(server, version)
    if host_name and max_count > 1:
        raise BadRequest("Cannot set a hostname when creating more than one server.")
    return CreateRequest(
        name=name,
        image_ref="" if boot_volume else _boot_image(server),
        boot_volume=boot_volume,
        flavor_ref=_last_segment(server["flavorRef"], "flavorRef"),
        min_count=min_count,
        max_count=max_count,
        availability_zone=zone,
        force_host=host,
        metadata=metadata,
        description=description or "",
        return_reservation_id=boolean("return_reservation_id", reservation) if reservation else False,
        key_name=key_name,
        user_data=_user_data(server.get("user_data")),
        config_drive=_config_drive(server.get("config_drive")),
        server_group=_group_hint(body),
        tags=server_edit.check_tags(server["tags"]) if server.get("tags") is not None else [],
        access_ip_v4=access_ip(server, "accessIPv4"),
        access_ip_v6=access_ip(server, "accessIPv6"),
        admin_pass=_admin_pass(server.get("adminPass")),
        disk_config=disk_config(server),
        hostname=host_name or "",
    )


def _admin_pass(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("adminPass", value, f"{value!r} is not of type 'string'")
    return value


_ACCESS_IP_TYPES = {"accessIPv4": ipaddress.IPv4Address, "accessIPv6": ipaddress.IPv6Address}


def access_ip(server: dict, key: str) -> str | None:
    """Nova's ``format: ipv4`` / ``ipv6`` (null or "" means none), in the canonical form Nova keeps."""
    value = server.get(key)
    if value in (None, ""):
        return None
    try:
        return str(_ACCESS_IP_TYPES[key](value))
    except (TypeError, ValueError) as exc:
        kind = "IPv4" if key == "accessIPv4" else "IPv6"
        raise invalid(key, value, f"It is not a valid {kind} address.") from exc


def _group_hint(body: dict) -> str | None:
    """``os:scheduler_hints`` (beside ``server``): Stratus's scheduler honours ``group`` only, so
    any other hint is refused rather than silently ignored."""
    hints = body.get("os:scheduler_hints", body.get("OS-SCH-HNT:scheduler_hints"))
    if hints in (None, {}):
        return None
    if not isinstance(hints, dict):
        raise invalid("os:scheduler_hints", hints, "It must be an object.")
    unknown = set(hints) - {"group"}
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute os:scheduler_hints. Unsupported scheduler hints: "
            f"{', '.join(sorted(unknown))} (only group is supported)."
        )
    group = hints["group"]
    if isinstance(group, list) and len(group) == 1:
        group = group[0]
    if not isinstance(group, str) or not group:
        raise invalid("group", group, "It must be the id of a server group.")
    return group


def _description(server: dict) -> str | None:
    """Nova's description (2.19+): null or at most 255 printable characters."""
    description = server.get("description")
    if description is None:
        return None
    if not isinstance(description, str):
        raise invalid("description", description, f"{description!r} is not of type 'string', 'null'")
    if len(description) > 255:
        raise invalid("description", description, f"{description!r} is too long")
    if not all(c.isprintable() or c in "\n\t\r" for c in description):
        raise invalid("description", description, "It must be printable characters.")
    return description


@dataclass
class UpdateRequest:
    name: str | None = None
    description: str | None = None  # "" clears it
    # accessIPv4/accessIPv6: absent leaves them, null or "" clears them
    access_ips: dict[str, str | None] = field(default_factory=dict)
    disk_config: str | None = None
    hostname: str | None = None


def server_update(body: Any, version: APIVersion) -> UpdateRequest:
    """``PUT /servers/{id}`` (Nova's schemas/servers.py base_update, 2.19 description)."""
    if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
        raise BadRequest("Invalid input for field/attribute server. 'server' is a required property")
    if set(body) - {"server"}:
        raise _unexpected(set(body) - {"server"}, "root")
    server = body["server"]
    known = {"name", "OS-DCF:diskConfig", "accessIPv4", "accessIPv6"}
    if version >= "2.19":
        known.add("description")
    if version >= "2.90":
        known.add("hostname")
    unknown = set(server) - known
    if unknown:
        raise _unexpected(unknown, "server")
    out = UpdateRequest(disk_config=disk_config(server), hostname=hostname(server, version))
    if "name" in server:
        out.name = resource_name(server)
    if "description" in server:
        out.description = _description(server) or ""
    for key, column in (("accessIPv4", "access_ip_v4"), ("accessIPv6", "access_ip_v6")):
        if key in server:
            out.access_ips[column] = access_ip(server, key)
    return out


def lock_reason(body: Any, version: APIVersion) -> str:
    """``{"lock": null}``, or from 2.73 ``{"lock": {"locked_reason": "..."}}`` (1-255 characters)."""
    data = body.get("lock")
    if data is None:
        return ""
    if version < "2.73":
        # Before 2.73 Nova takes no body for lock and ignores what is there.
        return ""
    if not isinstance(data, dict):
        raise invalid("lock", data, f"{data!r} is not of type 'object', 'null'")
    if set(data) - {"locked_reason"}:
        raise _unexpected(set(data) - {"locked_reason"}, "lock")
    reason = data.get("locked_reason")
    if reason is None:
        return ""
    if not isinstance(reason, str):
        raise invalid("locked_reason", reason, f"{reason!r} is not of type 'string'")
    if not 1 <= len(reason) <= 255:
        raise invalid("locked_reason", reason, f"{reason!r} is too {'short' if not reason else 'long'}")
    return reason


def _user_data(value: Any) -> str:
    """Nova's user_data: a base64 string, checked by the compute service (size, decodable)."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise invalid("user_data", "...", "It must be a base64-encoded string.")
    return servers.check_user_data(value)


def _config_drive(value: Any) -> bool:
    if value in (None, ""):
        return False
    return boolean("config_drive", value)


def create_image(body: Any) -> tuple[str, dict]:
    data = body.get("createImage")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
        raise BadRequest("Invalid input for field/attribute name. 'name' is a required property")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict) or any(not isinstance(v, str) for v in metadata.values()):
        raise invalid("metadata", metadata, "Values must be strings.")
    return data["name"][:255], metadata


class BackupRequest(NamedTuple):
    name: str
    backup_type: str
    rotation: int
    metadata: dict


def create_backup(body: Any) -> BackupRequest:
    """``{"createBackup": {"name", "backup_type", "rotation", "metadata"?}}`` (Nova's schema)."""
    data = body.get("createBackup")
    if not isinstance(data, dict):
        raise invalid("createBackup", data, "It must be an object.")
    extra = set(data) - {"name", "backup_type", "rotation", "metadata"}
    if extra:
        raise _unexpected(extra, "createBackup")
    for key in ("name", "backup_type", "rotation"):
        if key not in data:
            raise BadRequest(f"Invalid input for field/attribute {key}. '{key}' is a required property")
    name, backup_type = data["name"], data["backup_type"]
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise invalid("name", name, "It must be 1 to 255 characters.")
    if not isinstance(backup_type, str) or not backup_type:
        raise invalid("backup_type", backup_type, "It must be a non-empty string.")
    rotation = integer(data, "rotation", 0)
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict) or any(not isinstance(v, str) for v in metadata.values()):
        raise invalid("metadata", metadata, "Values must be strings.")
    return BackupRequest(name, backup_type, rotation, metadata)


def security_group_name(body: Any, action: str) -> str:
    """``{"addSecurityGroup" | "removeSecurityGroup": {"name": "..."}}``."""
    data = body.get(action)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
        raise BadRequest(f"Invalid input for field/attribute {action}. 'name' is a required property")
    return data["name"].strip()


def reboot_type(body: Any) -> bool:
    """True for HARD."""
    data = body.get("reboot")
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind.upper() not in ("SOFT", "HARD"):
        raise BadRequest("Invalid input for field/attribute type. Value must be SOFT or HARD.")
    return kind.upper() == "HARD"


def console_length(body: Any) -> int | None:
    data = body.get("os-getConsoleOutput") or {}
    if not isinstance(data, dict):
        raise invalid("os-getConsoleOutput", data, "It must be an object.")
    length = data.get("length")
    if length is None:
        return None
    if isinstance(length, bool):
        raise invalid("length", length, "It must be an integer.")
    try:
        number = int(length)
    except (TypeError, ValueError) as exc:
        raise invalid("length", length, "It must be an integer.") from exc
    if number < -1:
        raise invalid("length", length, "It must be -1 or more.")
    return None if number == -1 else number


def remote_console(body: Any) -> tuple[str, str]:
    """``{"remote_console": {"protocol": …, "type": …}}`` (POST /servers/{id}/remote-consoles)."""
    data = required_object(body, "remote_console")
    for name in ("protocol", "type"):
        if name not in data:
            raise BadRequest(
                f"Invalid input for field/attribute remote_console. '{name}' is a required property"
            )
    extra = sorted(set(data) - {"protocol", "type"})
    if extra:
        raise BadRequest(
            f"Additional properties are not allowed ({', '.join(map(repr, extra))} were unexpected)"
        )
    protocol, console_type = data["protocol"], data["type"]
    if protocol not in consoles.PROTOCOL_TYPES:
        raise invalid("protocol", protocol, f"It must be one of {', '.join(consoles.PROTOCOL_TYPES)}.")
    types = [t for group in consoles.PROTOCOL_TYPES.values() for t in group]
    if console_type not in types:
        raise invalid("type", console_type, f"It must be one of {', '.join(types)}.")
    if console_type not in consoles.PROTOCOL_TYPES[protocol]:
        raise BadRequest(f"Unavailable console type {console_type} for protocol {protocol}.")
    return protocol, console_type


def vnc_console_type(body: Any) -> str:
    """``{"os-getVNCConsole": {"type": "novnc"}}`` (the server action of microversions up to 2.5)."""
    data = required_object(body, "os-getVNCConsole")
    console_type = data.get("type")
    if console_type not in consoles.PROTOCOL_TYPES["vnc"]:
        raise invalid("type", console_type, "It must be novnc or xvpvnc.")
    return console_type


def no_arguments(body: Any, action: str) -> None:
    """shelve and shelveOffload take null (Nova's schema); an empty object is tolerated."""
    value = body.get(action)
    if value not in (None, {}):
        raise invalid(action, value, "It must be null.")


@dataclass(frozen=True)
class Unshelve:
    """Where an unshelve may go: an availability zone (2.77+), a host (2.91+, admins); an explicit
    null zone (2.91+) lets it go to any zone, which is where Stratus sends it anyway."""

    availability_zone: str | None = None
    host: str | None = None


def unshelve(body: Any, version: APIVersion) -> Unshelve:
    """The body of ``unshelve``: null, or from 2.77 an object with availability_zone, and from
    2.91 also host (and a null availability_zone)."""
    value = body.get("unshelve")
    if value is None:
        return Unshelve()
    if version < "2.77" or not isinstance(value, dict):
        raise invalid("unshelve", value, "It must be null (an availability zone needs 2.77).")
    allowed = {"availability_zone", "host"} if version >= "2.91" else {"availability_zone"}
    unknown = set(value) - allowed
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute unshelve. Additional properties are not allowed "
            f"({', '.join(sorted(unknown))} unexpected)"
        )
    zone = value.get("availability_zone")
    if zone is None and "availability_zone" in value and version < "2.91":
        raise invalid("availability_zone", zone, "It must be a string (null needs 2.91).")
    if zone is not None and (not isinstance(zone, str) or not 0 < len(zone) <= 255):
        raise invalid("availability_zone", zone, "It must be a string of 1 to 255 characters.")
    host = value.get("host")
    if "host" in value and (not isinstance(host, str) or not 0 < len(host) <= 255):
        raise invalid("host", host, "It must be a host name of 1 to 255 characters.")
    return Unshelve(availability_zone=zone, host=host)
