"""Nova's os-volume_attachments on servers: list, show, attach, detach."""

from __future__ import annotations

import uuid

from rest_framework.response import Response

from dashboard.api.compute import ComputeView
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize
from instances import policies
from instances.api.servers import get_server
from instances.api.volumes import get_volume
from instances.models import VolumeAttachment
from instances.services import attachments


def attachment_json(request, attachment: VolumeAttachment) -> dict:
    body = {
        "id": str(attachment.volume_id),
        "serverId": str(attachment.instance_id),
        "volumeId": str(attachment.volume_id),
        "device": attachment.device_path,
    }
    version = request.api_version
    if version >= "2.70":
        body["tag"] = None
    if version >= "2.79":
        body["delete_on_termination"] = attachment.delete_on_termination
    if version >= "2.89":
        del body["id"]
        body["attachment_id"] = str(attachment.pk)
        body["bdm_uuid"] = str(attachment.pk)
    return body


class AttachmentListView(ComputeView):
    def get(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.ATTACHMENTS_INDEX, {"project_id": str(instance.project_id)})
        rows = VolumeAttachment.objects.filter(instance=instance).order_by("device")
        return Response({"volumeAttachments": [attachment_json(request, a) for a in rows]})

    def post(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.ATTACHMENTS_CREATE, {"project_id": str(instance.project_id)})
        body = request.data.get("volumeAttachment") if isinstance(request.data, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("volumeId"), str):
            raise BadRequest(
                "Invalid input for field/attribute volumeAttachment. 'volumeId' is a required property"
            )
        device = body.get("device")
        if device is not None and not isinstance(device, str):
            raise BadRequest("Invalid input for field/attribute device. It must be a string or null.")
        try:
            volume = get_volume(ctx, body["volumeId"], api=False)
        except NotFound as exc:
            raise NotFound(f"Volume {body['volumeId']} could not be found.") from exc
        attachment = attachments.begin_attach(ctx, instance, volume, device or None)
        if request.api_version >= "2.79" and "delete_on_termination" in body:
            flag = body["delete_on_termination"]
            if not isinstance(flag, bool):
                raise BadRequest("Invalid input for field/attribute delete_on_termination.")
            VolumeAttachment.objects.filter(pk=attachment.pk).update(delete_on_termination=flag)
            attachment.delete_on_termination = flag
        return Response({"volumeAttachment": attachment_json(request, attachment)})


class AttachmentView(ComputeView):
    def _find(self, ctx: RequestContext, server_id: str, volume_id: str, rule: str):
        instance = get_server(ctx, server_id)
        authorize(ctx, rule, {"project_id": str(instance.project_id)})
        attachment = (
            VolumeAttachment.objects.select_related("volume")
            .filter(instance=instance, volume_id__in=[v for v in [_uuid(volume_id)] if v])
            .first()
        )
        if attachment is None:
            raise NotFound(f"Volume {volume_id} is not attached to instance {server_id}.")
        return instance, attachment

    def get(self, request, server_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        _, attachment = self._find(ctx, server_id, volume_id, policies.ATTACHMENTS_SHOW)
        return Response({"volumeAttachment": attachment_json(request, attachment)})

    def delete(self, request, server_id: str, volume_id: str):
        ctx: RequestContext = request.auth
        instance, attachment = self._find(ctx, server_id, volume_id, policies.ATTACHMENTS_DELETE)
        attachments.begin_detach(ctx, instance, attachment.volume)
        return self.empty(202)


def _uuid(value: str):

    try:
        return uuid.UUID(value)
    except ValueError:
        return None
