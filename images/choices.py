"""Statuses and formats of images, members and locations, as the Glance v2 API names them."""

from django.db import models


class ImageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SAVING = "saving", "Saving"
    UPLOADING = "uploading", "Uploading"
    IMPORTING = "importing", "Importing"
    ACTIVE = "active", "Active"
    KILLED = "killed", "Killed"
    DEACTIVATED = "deactivated", "Deactivated"
    PENDING_DELETE = "pending_delete", "Pending delete"
    DELETED = "deleted", "Deleted"


# States in which bytes are moving; they count as uploads in flight for the quota.
IN_FLIGHT = (ImageStatus.SAVING, ImageStatus.UPLOADING, ImageStatus.IMPORTING)


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    COMMUNITY = "community", "Community"
    SHARED = "shared", "Shared"
    PRIVATE = "private", "Private"


class DiskFormat(models.TextChoices):
    AMI = "ami", "AMI"
    ARI = "ari", "ARI"
    AKI = "aki", "AKI"
    VHD = "vhd", "VHD"
    VHDX = "vhdx", "VHDX"
    VMDK = "vmdk", "VMDK"
    RAW = "raw", "Raw"
    QCOW2 = "qcow2", "QCOW2"
    VDI = "vdi", "VDI"
    ISO = "iso", "ISO"
    PLOOP = "ploop", "Ploop"


class ContainerFormat(models.TextChoices):
    AMI = "ami", "AMI"
    ARI = "ari", "ARI"
    AKI = "aki", "AKI"
    BARE = "bare", "Bare"
    OVF = "ovf", "OVF"
    OVA = "ova", "OVA"
    DOCKER = "docker", "Docker"
    COMPRESSED = "compressed", "Compressed"


class MemberStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class ImportMethod(models.TextChoices):
    GLANCE_DIRECT = "glance-direct", "Upload to staging, then import"
    WEB_DOWNLOAD = "web-download", "Copy data from a URL"
    COPY_IMAGE = "copy-image", "Copy to another store"
    # Not an import method of the API: POST /locations, checked by a worker like an import.
    LOCATION = "location", "Data stays at a URL"


# What GET /v2/info/import and the import API offer.
API_IMPORT_METHODS = (ImportMethod.GLANCE_DIRECT, ImportMethod.WEB_DOWNLOAD, ImportMethod.COPY_IMAGE)
