"""The Block Storage API v3 subset: volumes, their actions, limits and quota sets."""

from __future__ import annotations

import uuid

from rest_framework.response import Response

from dashboard.api.schemas import boolean
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.models import Project
from dashboard.policy import authorize, can
from images.models import Image
from instances import policies
from instances.api import volume_json as vj
from instances.api import volume_listing
from instances.api.volume_json import VolumeAPIView
from instances.choices import VolumeStatus
from instances.models import Volume
from instances.services import volume_images, volume_metadata, volumes

_FALSE = ("false", "0", "no", "off", "f", "n", "")


def get_volume(ctx: RequestContext, volume_id: str, *, api: bool = True) -> Volume:
    """The volume if the caller may see it (own project's, or any for an admin); else 404."""
    try:
        pk = uuid.UUID(str(volume_id))
    except ValueError as exc:
        raise NotFound(f"Volume {volume_id} could not be found.") from exc
    qs = Volume.objects.accessible_to(ctx).filter(pk=pk)
    volume = (qs.for_api() if api else qs).first()
    if volume is None:
        raise NotFound(f"Volume {volume_id} could not be found.")
    return volume


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _image_for(ctx: RequestContext, ref: str):

    try:
        pk = uuid.UUID(str(ref).rstrip("/").rsplit("/", 1)[-1])
    except ValueError:
        pk = None
    image = Image.objects.visible_to(ctx).filter(pk=pk).prefetch_related("locations").first() if pk else None
    if image is None:
        raise BadRequest(f"Invalid image identifier or unable to access requested image: {ref}.")
    return image


class VolumeListView(VolumeAPIView):
    detail = False

    def get(self, request, project_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_GET_ALL, {"project_id": ctx.project_id})
        params = request.query_params
        all_projects = params.get("all_tenants", "").strip().lower() not in _FALSE
        if all_projects:
            authorize(ctx, policies.VOLUME_ALL_TENANTS, {"project_id": ctx.project_id})
        qs = Volume.objects.visible_to(ctx, all_projects=all_projects)
        if all_projects and params.get("project_id"):  # an admin's list of one project's volumes
            qs = qs.filter(project_id=params["project_id"])
        marker = None
        if params.get("marker"):
            marker = qs.filter(pk=_uuid_or_none(params["marker"])).first()
        qs, limit = volume_listing.page(qs.for_api() if self.detail else qs, params, marker)
        items = list(qs)
        if self.detail:
            admin = can(ctx, policies.VOLUME_ALL_TENANTS, {"project_id": ctx.project_id})
            body = {"volumes": [vj.detail(request, v, admin=admin) for v in items]}
        else:
            body = {"volumes": [vj.summary(request, v) for v in items]}
        links = volume_listing.next_links(request, items, limit)
        if links:
            body["volumes_links"] = links
        return Response(body)

    def post(self, request, project_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_CREATE, {"project_id": ctx.project_id})
        body = vj.volume_body(request.data)
        # There are no volume snapshots or backups, and one volume type, so any other id names
        # something that does not exist: Cinder's 404 for it.
        if body.get("snapshot_id"):
            raise NotFound(f"Snapshot {body['snapshot_id']} could not be found.")
        if body.get("backup_id"):
            raise NotFound(f"Backup {body['backup_id']} could not be found.")
        if body.get("volume_type") not in (None, "", vj.VOLUME_TYPE):
            raise NotFound(f"Volume type with name or id {body['volume_type']} could not be found.")
        image_ref = body.get("imageRef") or body.get("image_id")
        image = None
        if image_ref:
            authorize(ctx, policies.VOLUME_CREATE_FROM_IMAGE, {"project_id": ctx.project_id})
            image = _image_for(ctx, image_ref)
        source = None
        if body.get("source_volid"):
            try:
                source = get_volume(ctx, body["source_volid"], api=False)
            except NotFound as exc:
                raise NotFound(f"Source volume {body['source_volid']} could not be found.") from exc
        size = vj.size_value(body.get("size"))
        if size is None and source is not None:
            size = source.size
        metadata = volume_metadata.check_metadata(body.get("metadata") or {})
        volume = volumes.create_volume(
            ctx,
            size=size,
            name=vj.text(body.get("name"), "name") or "",
            description=vj.text(body.get("description"), "description", 65535) or "",
            image=image,
            source_volume=source,
            availability_zone=vj.text(body.get("availability_zone"), "availability_zone"),
            metadata=metadata,
        )
        volume = get_volume(ctx, str(volume.pk))
        return Response(
            {"volume": vj.detail(request, volume, admin=ctx.is_admin, extended=False)}, status=202
        )


class VolumeDetailListView(VolumeListView):
    detail = True
    http_method_names = ["get", "head", "options"]


class VolumeView(VolumeAPIView):
    def get(self, request, project_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id)
        authorize(ctx, policies.VOLUME_GET, {"project_id": str(volume.project_id)})
        admin = can(ctx, policies.VOLUME_ALL_TENANTS, {"project_id": ctx.project_id})
        return Response({"volume": vj.detail(request, volume, admin=admin)})

    def put(self, request, project_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id)
        authorize(ctx, policies.VOLUME_UPDATE, {"project_id": str(volume.project_id)})
        body = vj.volume_body(request.data)
        name = vj.text(body.get("name", body.get("display_name")), "name")
        description = vj.text(body.get("description", body.get("display_description")), "description", 65535)
        metadata = body.get("metadata")
        if metadata is not None:
            volume_metadata.check_metadata(metadata)
        volumes.update_volume(volume, name=name, description=description)
        if metadata is not None:
            volume_metadata.set_metadata(volume, metadata, replace=True)
        updated = get_volume(ctx, volume_id)
        return Response({"volume": vj.detail(request, updated, admin=ctx.is_admin, extended=False)})

    def delete(self, request, project_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        volume = get_volume(ctx, volume_id, api=False)
        authorize(ctx, policies.VOLUME_DELETE, {"project_id": str(volume.project_id)})
        volumes.begin_delete(ctx, volume)
        return self.empty(202)


class VolumeActionView(VolumeAPIView):
    def post(self, request, project_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        body = request.data
        if not isinstance(body, dict) or len(body) != 1:
            raise BadRequest("The request body must hold exactly one action.")
        ((name, args),) = body.items()
        volume = get_volume(ctx, volume_id, api=False)
        target = {"project_id": str(volume.project_id)}
        if name == "os-extend":
            authorize(ctx, policies.VOLUME_EXTEND, target)
            new_size = vj.size_value((args or {}).get("new_size") if isinstance(args, dict) else None)
            volumes.begin_extend(ctx, volume, new_size)
            return self.empty(202)
        if name == "os-set_bootable":
            authorize(ctx, policies.VOLUME_SET_BOOTABLE, target)
            if not isinstance(args, dict) or "bootable" not in args:
                raise BadRequest("Must specify bootable in request.")
            volumes.set_bootable(volume, boolean("bootable", args["bootable"]))
            return self.empty(200)
        if name == "os-volume_upload_image":
            authorize(ctx, policies.VOLUME_UPLOAD_IMAGE, target)
            if (
                not isinstance(args, dict)
                or not isinstance(args.get("image_name"), str)
                or not args["image_name"]
            ):
                raise BadRequest("No image_name was specified in request.")
            if args.get("force") and boolean("force", args["force"]) and volume.status == VolumeStatus.IN_USE:
                raise BadRequest("Uploading an attached volume is not supported; detach it first.")
            disk_format = args.get("disk_format") or "raw"
            container_format = args.get("container_format") or "bare"
            image = volume_images.begin_upload(ctx, volume, args["image_name"], disk_format, container_format)
            return Response(
                {
                    "os-volume_upload_image": {
                        "id": str(volume.pk),
                        "updated_at": vj._time(volume.updated_at),
                        "status": VolumeStatus.UPLOADING,
                        "display_description": volume.description,
                        "size": volume.size,
                        "volume_type": None,
                        "image_id": str(image.pk),
                        "container_format": container_format,
                        "disk_format": disk_format,
                        "image_name": image.name,
                        "protected": False,
                        "visibility": "private",
                    }
                },
                status=202,
            )
        if name == "os-reserve":
            authorize(ctx, policies.VOLUME_RESERVE, target)
            volumes.reserve(volume)
            return self.empty(202)
        if name == "os-unreserve":
            authorize(ctx, policies.VOLUME_UNRESERVE, target)
            volumes.unreserve(volume)
            return self.empty(202)
        if name in IMAGE_METADATA_ACTIONS:
            return self._image_metadata(ctx, volume, name, args)
        raise BadRequest(f"There is no such action: {name}")

    def _image_metadata(self, ctx: RequestContext, volume: Volume, name: str, args):
        """Cinder's volume image metadata actions: show, set (merge) and unset one key."""
        authorize(ctx, IMAGE_METADATA_ACTIONS[name], {"project_id": str(volume.project_id)})
        if name == "os-show_image_metadata":
            return Response({"metadata": volume.volume_image_metadata})
        if name == "os-set_image_metadata":
            if not isinstance(args, dict) or not isinstance(args.get("metadata"), dict):
                raise BadRequest("Malformed request body: 'metadata' must be an object.")
            return Response({"metadata": volume_metadata.set_image_metadata(volume, args["metadata"])})
        key = args.get("key") if isinstance(args, dict) else None
        if not isinstance(key, str) or not key:
            raise BadRequest("Malformed request body: 'key' must be a string.")
        volume_metadata.unset_image_metadata(volume, key)
        return self.empty(200)


IMAGE_METADATA_ACTIONS = {
    "os-show_image_metadata": policies.VOLUME_IMAGE_METADATA_SHOW,
    "os-set_image_metadata": policies.VOLUME_IMAGE_METADATA_SET,
    "os-unset_image_metadata": policies.VOLUME_IMAGE_METADATA_REMOVE,
}


def _absolute(project_id: str) -> dict:
    limits, used = volumes.quota_limits(project_id), volumes.quota_usage(project_id)
    return {
        "maxTotalVolumes": limits["volumes"],
        "maxTotalVolumeGigabytes": limits["gigabytes"],
        "maxTotalSnapshots": limits["snapshots"],
        "maxTotalBackups": limits["backups"],
        "maxTotalBackupGigabytes": limits["backup_gigabytes"],
        "totalVolumesUsed": used["volumes"],
        "totalGigabytesUsed": used["gigabytes"],
        "totalSnapshotsUsed": 0,
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }


class VolumeSummaryView(VolumeAPIView):
    """``GET /volumes/summary`` (3.12): how many volumes and GiB, and (3.36) their metadata values."""

    def get(self, request, project_id: str):
        if request.api_version < "3.12":
            raise NotFound("Volume summary could not be found.")
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_SUMMARY, {"project_id": ctx.project_id})
        all_projects = request.query_params.get("all_tenants", "").strip().lower() not in _FALSE
        if all_projects:
            authorize(ctx, policies.VOLUME_ALL_TENANTS, {"project_id": ctx.project_id})
        rows = list(Volume.objects.visible_to(ctx, all_projects=all_projects).values_list("size", "metadata"))
        body: dict = {"total_size": sum(size for size, _ in rows), "total_count": len(rows)}
        if request.api_version >= "3.36":
            values: dict[str, list[str]] = {}
            for _, metadata in rows:
                for key, value in (metadata or {}).items():
                    if value not in values.setdefault(key, []):
                        values[key].append(value)
            body["metadata"] = values
        return Response({"volume-summary": body})


class AvailabilityZoneView(VolumeAPIView):
    """``GET /os-availability-zone``: the zones volumes are made in (the default one, and any a
    volume names)."""

    def get(self, request, project_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_ZONES, {"project_id": ctx.project_id})
        named = Volume.objects.exclude(availability_zone="").values_list("availability_zone", flat=True)
        zones = sorted({volumes.DEFAULT_ZONE, *named})
        return Response(
            {"availabilityZoneInfo": [{"zoneName": zone, "zoneState": {"available": True}} for zone in zones]}
        )


class LimitsView(VolumeAPIView):
    def get(self, request, project_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_LIMITS, {"project_id": ctx.project_id})
        return Response({"limits": {"rate": [], "absolute": _absolute(ctx.project_id)}})


class QuotaSetView(VolumeAPIView):
    def get(self, request, project_id: str, target_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_QUOTA_SHOW, {"project_id": target_id})
        limits = volumes.quota_limits(target_id)
        if request.query_params.get("usage", "").lower() in ("true", "1"):
            used = volumes.quota_usage(target_id)
            body = {
                k: {"limit": v, "in_use": used[k], "reserved": 0, "allocated": 0} for k, v in limits.items()
            }
        else:
            body = dict(limits)
        return Response({"quota_set": {"id": target_id, **body}})

    def put(self, request, project_id: str, target_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_QUOTA_UPDATE, {"project_id": target_id})
        project = Project.objects.filter(pk=target_id).first()
        body = request.data.get("quota_set") if isinstance(request.data, dict) else None
        if project is None or not isinstance(body, dict):
            raise BadRequest("Invalid input received: a quota_set for an existing project is required.")
        values = {}
        for name in volumes.QUOTA_RESOURCES:
            if name in body:
                value = vj.size_value(body[name])
                if isinstance(value, bool) or not isinstance(value, int) or value < -1:
                    raise BadRequest(
                        f"Invalid input received: quota {name} must be an integer of -1 or more."
                    )
                values[name] = value
        return Response({"quota_set": volumes.set_quota(project, values)})

    def delete(self, request, project_id: str, target_id: str):
        """Back to the defaults (Cinder answers 200 with no body)."""
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_QUOTA_DELETE, {"project_id": target_id})
        volumes.reset_quota(target_id)
        return self.empty(200)


class QuotaDefaultsView(VolumeAPIView):
    def get(self, request, project_id: str, target_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.VOLUME_QUOTA_SHOW, {"project_id": ctx.project_id})
        return Response({"quota_set": {"id": target_id, **volumes.quota_defaults()}})
