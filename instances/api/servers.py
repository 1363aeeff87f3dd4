"""Nova's servers API: list, detail, show, create, delete and the server actions."""

from __future__ import annotations

import secrets
import uuid
from urllib.parse import urlencode

from django.db import transaction
from rest_framework.response import Response

from dashboard.api.compute import ComputeView, compute_url
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, Conflict, NotFound
from dashboard.policy import authorize, can
from flavors.models import Flavor
from images.models import Image
from instances import policies
from instances.api import paging, server_json, server_moves, server_ops, server_schemas
from instances.api.volumes import get_volume
from instances.compute import rpc
from instances.filters import ServerListFilter
from instances.models import ComputeHost, Instance
from instances.services import consoles, locks, server_edit, server_groups, servers, shelve
from instances.services.attachments import BootVolume

_FALSE = ("false", "0", "no", "off", "f", "n")


def request_id(request) -> str:
    """The id the request-id middleware gave this request (x-openstack-request-id)."""
    return getattr(request, "request_id", "") or f"req-{uuid.uuid4()}"


def get_server(ctx: RequestContext, server_id: str) -> Instance:
    """The server if the caller may see it: own project's, or any for an admin; else 404."""
    try:
        pk = uuid.UUID(server_id)
    except ValueError as exc:
        raise NotFound(f"Instance {server_id} could not be found.") from exc
    instance = Instance.objects.accessible_to(ctx).for_api().filter(pk=pk).first()
    if instance is None:
        raise NotFound(f"Instance {server_id} could not be found.")
    return instance


def _flag(params, name: str) -> bool:
    return name in params and params.get(name, "").strip().lower() not in _FALSE


class ServerListView(ComputeView):
    detail = False

    def get(self, request):
        ctx: RequestContext = request.auth
        params = request.query_params
        base_rule = policies.SERVERS_DETAIL if self.detail else policies.SERVERS_INDEX
        authorize(ctx, base_rule, {"project_id": ctx.project_id})
        all_projects = _flag(params, "all_tenants")
        if all_projects:
            rule = policies.SERVERS_DETAIL_ALL_TENANTS if self.detail else policies.SERVERS_ALL_TENANTS
            authorize(ctx, rule, {"project_id": ctx.project_id})
        servers_qs = self._filtered(ctx, params, all_projects)
        limit = paging.limit_from(params)
        servers_qs = paging.after_marker(
            servers_qs, params.get("marker"), newest_first=True, missing="marker [{marker}] not found"
        )
        if self.detail:
            servers_qs = servers_qs.with_volumes().with_tags()
        page = list(servers_qs.order_by("-created_at", "-id")[:limit]) if limit else []
        if self.detail:
            attrs = can(ctx, policies.EXTENDED_SERVER_ATTRIBUTES, {"project_id": ctx.project_id})
            items = [
                server_json.server_detail(request, s, admin_attrs=attrs, admin=ctx.is_admin) for s in page
            ]
        else:
            items = [server_json.server_summary(request, s) for s in page]
        body: dict = {"servers": items}
        if page and len(page) == limit:
            query = {k: v for k, v in params.items() if k != "marker"}
            query.update(limit=limit, marker=str(page[-1].pk))
            path = "servers/detail" if self.detail else "servers"
            body["servers_links"] = [
                {"rel": "next", "href": f"{compute_url(request)}/v2.1/{path}?{urlencode(query)}"}
            ]
        return Response(body)

    def _filtered(self, ctx: RequestContext, params, all_projects: bool):
        qs = Instance.objects.visible_to(ctx, all_projects=all_projects).for_api()
        if ctx.is_admin and _flag(params, "deleted"):
            qs = Instance.objects.filter(deleted=True).for_api()
            if not all_projects:
                qs = qs.filter(project_id=ctx.project_id)
        return ServerListFilter(params, queryset=qs, ctx=ctx, all_projects=all_projects).qs

    def post(self, request):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.SERVERS_CREATE, {"project_id": ctx.project_id})
        data = server_schemas.server_create(request.data, request.api_version)
        if data.force_host:
            authorize(ctx, policies.SERVERS_FORCED_HOST, {"project_id": ctx.project_id})
        if (
            data.availability_zone
            and not ComputeHost.objects.filter(availability_zone=data.availability_zone).exists()
        ):
            raise BadRequest("The requested availability zone is not available")
        boot_volume = _boot_volume_for(ctx, data.boot_volume) if data.boot_volume else None
        image = _image_for(ctx, data.image_ref) if boot_volume is None else None
        flavor = (
            Flavor.objects.launchable_by(ctx)
            .filter(pk=data.flavor_ref)
            .prefetch_related("extra_specs")
            .first()
        )
        if flavor is None:
            raise BadRequest(f"Flavor {data.flavor_ref} could not be found.")
        group = server_groups.group_for_launch(ctx, data.server_group) if data.server_group else None
        with transaction.atomic():
            created = self._launch(request, ctx, data, image, flavor, boot_volume, group)
        if data.return_reservation_id:
            return Response({"reservation_id": created[0].reservation_id}, status=202)
        first = created[0]
        return Response(
            {
                "server": {
                    "id": str(first.pk),
                    "links": server_json.server_links(request, first.pk),
                    "OS-DCF:diskConfig": server_json.disk_config(first),
                    "security_groups": [{"name": name} for name in first.security_groups],
                    "adminPass": data.admin_pass or secrets.token_urlsafe(9),
                }
            },
            status=202,
        )

    def _launch(
        self, request, ctx: RequestContext, data, image, flavor, boot_volume, group
    ) -> list[Instance]:
        """The servers and their tags (2.52), in the caller's transaction."""
        created = servers.launch(
            ctx,
            image=image,
            flavor=flavor,
            name=data.name,
            min_count=data.min_count,
            max_count=data.max_count,
            availability_zone=data.availability_zone,
            force_host=data.force_host,
            metadata=data.metadata,
            description=data.description,
            request_id=request_id(request),
            boot_volume=boot_volume,
            key_name=data.key_name,
            user_data=data.user_data,
            config_drive=data.config_drive,
            server_group=group,
            access_ip_v4=data.access_ip_v4,
            access_ip_v6=data.access_ip_v6,
            disk_config=data.disk_config,
            hostname=data.hostname,
        )
        if data.tags:
            for instance in created:
                server_edit.replace_tags(instance, data.tags)
        return created


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _image_for(ctx: RequestContext, image_ref: str):

    pk = _uuid_or_none(image_ref)
    image = Image.objects.visible_to(ctx).filter(pk=pk).first() if pk else None
    if image is None:
        raise BadRequest(f"Image {image_ref} could not be found.")
    return image


def _boot_volume_for(ctx: RequestContext, spec: dict):

    if spec["source"] == "image":
        return BootVolume(
            image=_image_for(ctx, spec["uuid"]),
            size=spec["volume_size"],
            delete_on_termination=spec["delete_on_termination"],
        )
    try:
        volume = get_volume(ctx, spec["uuid"], api=False)
    except NotFound as exc:
        raise BadRequest(f"Invalid volume: volume {spec['uuid']} could not be found.") from exc
    return BootVolume(volume=volume, delete_on_termination=spec["delete_on_termination"])


class ServerDetailListView(ServerListView):
    detail = True
    http_method_names = ["get", "head", "options"]


class ServerView(ComputeView):
    def get(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.SERVERS_SHOW, {"project_id": instance.project_id})
        attrs = can(ctx, policies.EXTENDED_SERVER_ATTRIBUTES, {"project_id": instance.project_id})
        body = server_json.server_detail(request, instance, admin_attrs=attrs, admin=ctx.is_admin)
        if request.api_version >= "2.71":  # Nova shows the groups on a single server only
            body["server_groups"] = server_json.server_group_ids(instance)
        return Response({"server": body})

    def put(self, request, server_id: str):
        """Rename or describe the server (Nova's update: 200 with the whole server)."""
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.SERVERS_UPDATE, {"project_id": instance.project_id})
        data = server_schemas.server_update(request.data, request.api_version)
        server_edit.update(
            instance,
            name=data.name,
            description=data.description,
            disk_config=data.disk_config,
            hostname=data.hostname,
            **data.access_ips,
        )
        attrs = can(ctx, policies.EXTENDED_SERVER_ATTRIBUTES, {"project_id": instance.project_id})
        return Response(
            {"server": server_json.changed_server(request, instance, admin_attrs=attrs, admin=ctx.is_admin)}
        )

    def delete(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.SERVERS_DELETE, {"project_id": instance.project_id})
        servers.begin_delete(ctx, instance, request_id(request))
        return self.empty(204)


# action body key → (policy, service action name)
ACTIONS = {
    "os-stop": (policies.SERVERS_STOP, "stop"),
    "os-start": (policies.SERVERS_START, "start"),
    "pause": (policies.PAUSE, "pause"),
    "unpause": (policies.UNPAUSE, "unpause"),
    "suspend": (policies.SUSPEND, "suspend"),
    "resume": (policies.RESUME, "resume"),
}


class ServerActionView(server_ops.DiskOpsActions, server_moves.MoveActions, ComputeView):
    """``POST /servers/{id}/action``: the body names one action; each has its handler below (or in
    server_ops), and the power actions of ``ACTIONS`` share one."""

    request_id = staticmethod(request_id)

    def post(self, request, server_id: str):
        ctx: RequestContext = request.auth
        body = request.data
        if not isinstance(body, dict) or len(body) != 1:
            raise BadRequest("The request body must hold exactly one action.")
        (name,) = body
        handler = self.HANDLERS.get(name, "_power" if name in ACTIONS else None)
        if handler is None:
            raise BadRequest(f"There is no such action: {name}")
        instance = get_server(ctx, server_id)
        return getattr(self, handler)(request, ctx, instance, name, body)

    HANDLERS = {
        "reboot": "_reboot",
        "createImage": "_create_image",
        "createBackup": "_create_backup",
        "addSecurityGroup": "_security_group",
        "removeSecurityGroup": "_security_group",
        "os-getConsoleOutput": "_console_output",
        "os-getVNCConsole": "_vnc_console",
        **server_ops.HANDLERS,
        **server_moves.HANDLERS,
        "shelve": "_shelve",
        "shelveOffload": "_shelve_offload",
        "unshelve": "_unshelve",
        "lock": "_lock",
        "unlock": "_unlock",
    }

    def _lock(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.LOCK, {"project_id": instance.project_id})
        reason = server_schemas.lock_reason(body, request.api_version)
        locks.lock(ctx, instance, reason, request_id=request_id(request))
        return self.empty(202)

    def _unlock(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        target = {"project_id": instance.project_id}
        authorize(ctx, policies.UNLOCK, target)
        if instance.locked and not locks.is_expected_locker(ctx, instance):
            authorize(ctx, policies.UNLOCK_OVERRIDE, target)
        locks.unlock(ctx, instance, request_id=request_id(request))
        return self.empty(202)

    def _power(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        rule, action = ACTIONS[name]
        authorize(ctx, rule, {"project_id": instance.project_id})
        servers.begin_action(ctx, instance, action, request_id=request_id(request))
        return self.empty(202)

    def _reboot(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.SERVERS_REBOOT, {"project_id": instance.project_id})
        action = "reboot_hard" if server_schemas.reboot_type(body) else "reboot"
        servers.begin_action(ctx, instance, action, request_id=request_id(request))
        return self.empty(202)

    def _create_image(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.SERVERS_CREATE_IMAGE, {"project_id": instance.project_id})
        image_name, metadata = server_schemas.create_image(body)
        rid = request_id(request)
        image = servers.create_snapshot(ctx, instance, image_name, metadata, request_id=rid)
        if request.api_version >= "2.45":
            return Response({"image_id": str(image.pk)}, status=202)
        response = self.empty(202)
        response["Location"] = server_json.image_location(request, image.pk)
        return response

    def _create_backup(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.CREATE_BACKUP, {"project_id": instance.project_id})
        backup = server_schemas.create_backup(body)
        rid = request_id(request)
        image = servers.create_backup(ctx, instance, *backup, request_id=rid)
        if backup.rotation == 0:  # Nova answers no image for a backup rotated away at once
            return Response({}, status=202) if request.api_version >= "2.45" else self.empty(202)
        if request.api_version >= "2.45":
            return Response({"image_id": str(image.pk)}, status=202)
        response = self.empty(202)
        response["Location"] = server_json.image_location(request, image.pk)
        return response

    def _security_group(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        """Stratus has no security groups to choose: every server is in its project's "default"
        group (the project network, reachable beyond its host only through port forwards). So a
        server cannot join another group nor leave that one; each answer says why."""
        add = name == "addSecurityGroup"
        rule = policies.SECURITY_GROUP_ADD if add else policies.SECURITY_GROUP_REMOVE
        authorize(ctx, rule, {"project_id": instance.project_id})
        group = server_schemas.security_group_name(body, name)
        if group != "default":
            raise NotFound(f"Security group {group} not found.")
        if add:
            raise BadRequest(f"Security group default is already associated with the instance {instance.pk}")
        raise Conflict(
            "A server cannot leave the default security group: Stratus has no other security groups "
            "(every server is on its project network, reachable beyond its host only through its "
            "port forwards)."
        )

    def _console_output(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.CONSOLE_OUTPUT, {"project_id": instance.project_id})
        length = server_schemas.console_length(body)
        if instance.host is None or not instance.host.is_up:
            raise Conflict(f"Instance {instance.pk} is not ready: its compute host is not available.")
        output = rpc.call("instances.console_output", instance.host.name, str(instance.pk), length)
        return Response({"output": output})

    def _vnc_console(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        if request.api_version > "2.5":  # replaced by POST /servers/{id}/remote-consoles
            raise NotFound(f"There is no such action: {name}")
        authorize(ctx, policies.REMOTE_CONSOLES, {"project_id": instance.project_id})
        console_type = server_schemas.vnc_console_type(body)
        consoles.check_type("vnc", console_type)
        token = consoles.issue(ctx.user, instance, console_type)
        return Response({"console": {"type": console_type, "url": consoles.page_url(request, token)}})

    def _shelve(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.SHELVE, {"project_id": instance.project_id, "user_id": instance.user_id})
        server_schemas.no_arguments(body, name)
        shelve.begin_shelve(ctx, instance, request_id(request))
        return self.empty(202)

    def _shelve_offload(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.SHELVE_OFFLOAD, {"project_id": instance.project_id})
        server_schemas.no_arguments(body, name)
        shelve.begin_offload(ctx, instance, request_id(request))
        return self.empty(202)

    def _unshelve(self, request, ctx: RequestContext, instance: Instance, name: str, body: dict):
        authorize(ctx, policies.UNSHELVE, {"project_id": instance.project_id})
        where = server_schemas.unshelve(body, request.api_version)
        zone = where.availability_zone
        if where.host is not None:
            authorize(ctx, policies.UNSHELVE_TO_HOST, {"project_id": instance.project_id})
            target = ComputeHost.objects.filter(name=where.host).first()
            if target is None:
                raise BadRequest(f"Compute host {where.host} could not be found.")
            if zone and target.availability_zone != zone:
                raise BadRequest(f'Host "{where.host}" is not in the availability zone "{zone}".')
        elif zone and not ComputeHost.objects.filter(availability_zone=zone).exists():
            raise BadRequest(f"The requested availability zone is not available: {zone}")
        shelve.begin_unshelve(ctx, instance, zone, request_id(request), host=where.host)
        return self.empty(202)
