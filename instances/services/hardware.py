"""Glance's hardware properties of an image, honoured at launch.

An image says what virtual hardware its guest needs (``hw_disk_bus=scsi``, ``hw_vif_model=e1000``,
``hw_machine_type=pc`` …, the properties Nova's libvirt driver reads). :func:`guest_hardware`
turns them into the guest spec's hardware fields and refuses a value this cloud cannot give with
:class:`UnsupportedHardware`: a 400 naming the property and the value, never a silent default.

Checked once per launch by :func:`instances.services.servers.launch`, which the compute API and
the dashboard both call; the compute agent builds the guest from the same properties
(compute.manager), and the Launch page shows what an image asks for (:func:`summary`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashboard.exceptions import BadRequest
from instances.virt.base import (
    CDROM_BUSES,
    DISK_BUSES,
    MACHINES,
    NIC_MODELS,
    POINTER_MODELS,
    RNG_MODELS,
    SCSI_MODELS,
    VIDEO_MODELS,
    default_cdrom_bus,
)

TRUE = ("true", "yes", "1", "on", "y", "t")
FALSE = ("false", "no", "0", "off", "n", "f")
BOOLEAN = {**dict.fromkeys(TRUE, True), **dict.fromkeys(FALSE, False)}
YES_OR_NO = "yes or no (also true/false, on/off, 1/0)"
RNG_ALLOWED = "hw_rng:allowed"  # the flavor's say on hw_rng_model (Nova's extra spec)


class UnsupportedHardware(BadRequest):
    """An image property asks for hardware this cloud cannot give the guest."""


@dataclass(frozen=True)
class Property:
    name: str
    label: str  # what the Launch page calls it
    field: str  # the GuestSpec field it sets
    values: Mapping[str, Any]  # accepted value (lower case where case does not matter) → field value
    folds_case: bool = False  # Nova lower-cases os_type and flexible booleans before checking them
    shown: str = ""  # the accepted values as messages and the README list them; default: all of them

    def value_of(self, raw: Any) -> Any:
        text = str(raw).strip()
        key = text.lower() if self.folds_case else text
        if key not in self.values:
            raise UnsupportedHardware(
                f"Image property {self.name}={text} is not supported; supported values: {self.choices}."
            )
        return self.values[key]

    @property
    def choices(self) -> str:
        return self.shown or ", ".join(self.values)


def _same(*values: str) -> dict[str, str]:
    return {value: value for value in values}


PROPERTIES: tuple[Property, ...] = (
    Property("hw_disk_bus", "disk bus", "disk_bus", _same(*DISK_BUSES)),
    Property("hw_scsi_model", "SCSI model", "scsi_model", _same(*SCSI_MODELS)),
    Property("hw_cdrom_bus", "CD-ROM bus", "cdrom_bus", _same(*CDROM_BUSES)),
    Property("hw_vif_model", "NIC", "nic_model", _same(*NIC_MODELS)),
    Property("hw_machine_type", "machine", "machine", _same(*MACHINES)),
    # Nova calls the standard VGA "vga", QEMU calls it "std": both mean the same device.
    Property("hw_video_model", "video", "video_model", {**_same(*VIDEO_MODELS), "vga": "std"}),
    Property("hw_rng_model", "RNG", "rng_model", _same(*filter(None, RNG_MODELS))),
    Property("hw_qemu_guest_agent", "guest agent", "guest_agent", BOOLEAN, True, YES_OR_NO),
    Property("hw_pointer_model", "pointer", "pointer_model", _same(*POINTER_MODELS)),
    Property("hw_boot_menu", "boot menu", "boot_menu", BOOLEAN, True, YES_OR_NO),
    Property("hw_firmware_type", "firmware", "firmware", _same("bios", "uefi")),
    # Windows keeps its hardware clock in local time; everything else in UTC.
    Property("os_type", "OS", "clock", {"windows": "localtime", "linux": "utc"}, folds_case=True),
)


def guest_hardware(
    properties: Mapping[str, Any], *, flavor_extra_specs: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The GuestSpec hardware fields the image's properties ask for (only those it sets: the
    spec's defaults are the rest). Raises UnsupportedHardware for a value no guest here can have."""
    fields: dict[str, Any] = {}
    for prop in PROPERTIES:
        raw = properties.get(prop.name)
        if raw is not None and str(raw).strip() != "":
            fields[prop.field] = prop.value_of(raw)
    machine = fields.get("machine", "q35")
    for name, field in (("hw_disk_bus", "disk_bus"), ("hw_cdrom_bus", "cdrom_bus")):
        if fields.get(field) == "ide" and machine != "pc":
            raise UnsupportedHardware(
                f"Image property {name}=ide is not supported on the {machine} machine, which has no IDE "
                "controller; use sata or set hw_machine_type=pc."
            )
    conflict = flavor_conflict(properties, flavor_extra_specs or {})
    if conflict:
        raise UnsupportedHardware(conflict)
    return fields


def flavor_conflict(properties: Mapping[str, Any], extra_specs: Mapping[str, str]) -> str:
    """Why the flavor does not allow what the image asks for ("" when it does)."""
    allowed = str(extra_specs.get(RNG_ALLOWED, "true")).strip().lower()
    if properties.get("hw_rng_model") and allowed in FALSE:
        return (
            f"Image property hw_rng_model={properties['hw_rng_model']} is not allowed by the flavor "
            f"({RNG_ALLOWED}={extra_specs[RNG_ALLOWED]})."
        )
    return ""


def summary(properties: Mapping[str, Any], disk_format: str = "") -> tuple[str, str]:
    """What the Launch page says about an image's hardware: (text, problem). ``problem`` is the
    reason a launch would be refused, or ""."""
    try:
        fields = guest_hardware(properties)
    except UnsupportedHardware as exc:
        return "", exc.message
    parts = [
        f"{prop.label}: {str(properties[prop.name]).strip()}"
        for prop in PROPERTIES
        if prop.field in fields and prop.name in properties
    ]
    if disk_format == "iso":
        bus = fields.get("cdrom_bus") or default_cdrom_bus(fields.get("machine", "q35"))
        parts.insert(0, f"boots from the ISO as a CD-ROM ({bus}) and installs onto a blank root disk")
    if not parts:
        return "Standard hardware: virtio disks and NIC, q35 machine.", ""
    text = ", ".join(parts)
    return text[0].upper() + text[1:], ""
