"""JSON schemas at /v2/schemas/*. glanceclient builds its CLI options from the image schema and
validates every response against it, so the base properties are described exactly and every
additional property is a string."""

from __future__ import annotations

from rest_framework.response import Response

from dashboard.exceptions import NotFound
from images.api.views import GlanceView
from images.choices import ContainerFormat, DiskFormat, ImageStatus, MemberStatus, Visibility

UUID_PATTERN = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"


def _ro(schema: dict, description: str) -> dict:
    return {**schema, "readOnly": True, "description": description}


def _nullable_string(description: str, **extra) -> dict:
    return {"type": ["null", "string"], "description": description, **extra}


IMAGE_PROPERTIES = {
    "id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
    "name": _nullable_string("Descriptive name for the image", maxLength=255),
    "status": _ro({"type": "string", "enum": list(ImageStatus.values)}, "Status of the image"),
    "visibility": {
        "type": "string",
        "description": "Scope of image accessibility",
        "enum": list(Visibility.values),
    },  # fmt: skip
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list."},
    "checksum": _ro({"type": ["null", "string"], "maxLength": 32}, "md5 hash of image contents."),
    "os_hash_algo": _ro({"type": ["null", "string"], "maxLength": 64}, "Algorithm of os_hash_value"),
    "os_hash_value": _ro({"type": ["null", "string"], "maxLength": 128}, "Secure hash of image data"),
    "owner": _nullable_string("Owner of the image", maxLength=255),
    "size": _ro({"type": ["null", "integer"]}, "Size of image file in bytes"),
    "virtual_size": _ro({"type": ["null", "integer"]}, "Virtual size of image in bytes"),
    "container_format": {
        "type": ["null", "string"],
        "description": "Format of the container",
        "enum": [None, *ContainerFormat.values],
    },  # fmt: skip
    "disk_format": {
        "type": ["null", "string"],
        "description": "Format of the disk",
        "enum": [None, *DiskFormat.values],
    },  # fmt: skip
    "created_at": _ro({"type": "string"}, "Date and time of image registration"),
    "updated_at": _ro({"type": "string"}, "Date and time of the last image modification"),
    "tags": {
        "type": "array",
        "description": "List of strings related to the image",
        "items": {"type": "string", "maxLength": 255},
    },  # fmt: skip
    "direct_url": _ro({"type": "string"}, "URL to access the image file kept in external store"),
    "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
    "self": _ro({"type": "string"}, "An image self url"),
    "file": _ro({"type": "string"}, "An image file url"),
    "stores": _ro({"type": "string"}, "Store in which image data resides."),
    "schema": _ro({"type": "string"}, "An image schema url"),
    "locations": {
        "type": "array",
        "description": "A set of URLs to access the image file kept in external store",
        "items": {
            "type": "object",
            "properties": {
                "url": {"type": "string", "maxLength": 255},
                "metadata": {"type": "object"},
                "validation_data": {"type": "object"},
            },
            "required": ["url", "metadata"],
        },
    },
    "kernel_id": _nullable_string(
        "ID of image stored in Glance that should be used as the kernel", pattern=UUID_PATTERN, is_base=False
    ),  # fmt: skip
    "ramdisk_id": _nullable_string(
        "ID of image stored in Glance that should be used as the ramdisk", pattern=UUID_PATTERN, is_base=False
    ),  # fmt: skip
    "instance_uuid": {
        "type": "string",
        "description": "Metadata which can be used to record which instance "
        "this image is associated with. (Informational only)",
        "is_base": False,
    },  # fmt: skip
    "architecture": {"type": "string", "description": "Operating system architecture", "is_base": False},
    "os_distro": {
        "type": "string",
        "description": "Common name of operating system distribution",
        "is_base": False,
    },  # fmt: skip
    "os_version": {"type": "string", "description": "Operating system version", "is_base": False},
    "description": {
        "type": "string",
        "description": "A human-readable string describing this image.",
        "is_base": False,
    },  # fmt: skip
    "cim_pasd_instance_type": {"type": "string", "is_base": False, "description": "Type of the instance"},
}

IMAGE_LINKS = [
    {"rel": "self", "href": "{self}"},
    {"rel": "enclosure", "href": "{file}"},
    {"rel": "describedby", "href": "{schema}"},
]

IMAGE = {
    "name": "image",
    "properties": IMAGE_PROPERTIES,
    "additionalProperties": {"type": "string"},
    "links": IMAGE_LINKS,
}

IMAGES = {
    "name": "images",
    "properties": {
        "images": {"type": "array", "items": IMAGE},
        "schema": {"type": "string"},
        "first": {"type": "string"},
        "next": {"type": "string"},
    },
    "links": [
        {"rel": "first", "href": "{first}"},
        {"rel": "next", "href": "{next}"},
        {"rel": "describedby", "href": "{schema}"},
    ],
}

MEMBER = {
    "name": "member",
    "properties": {
        "created_at": {"type": "string", "description": "Date and time of image member creation"},
        "image_id": {"type": "string", "description": "An identifier for the image", "pattern": UUID_PATTERN},
        "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
        "status": {
            "type": "string",
            "description": "The status of this image member",
            "enum": list(MemberStatus.values),
        },  # fmt: skip
        "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
        "schema": {"type": "string", "readOnly": True},
    },
}

MEMBERS = {
    "name": "members",
    "properties": {"members": {"type": "array", "items": MEMBER}, "schema": {"type": "string"}},
    "links": [{"rel": "describedby", "href": "{schema}"}],
}

SCHEMAS = {"image": IMAGE, "images": IMAGES, "member": MEMBER, "members": MEMBERS}


class SchemaView(GlanceView):
    def get(self, request, name):
        if name not in SCHEMAS:
            raise NotFound(f"No schema {name!r}.")
        return Response(SCHEMAS[name])
