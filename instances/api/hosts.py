"""os-hypervisors, os-availability-zone, os-services, os-quota-sets and limits."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.db.models import Count, Q
from rest_framework.response import Response

from dashboard import quotas as project_quotas
from dashboard.api.compute import ComputeView
from dashboard.api.schemas import MAX_INT
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.models import Project
from dashboard.policy import authorize
from instances import policies
from instances.compute import rpc
from instances.models import ComputeHost, Migration, ServerGroup
from instances.services import hosts as host_services
from instances.services import keypairs, quotas


def _hosts():
    return ComputeHost.objects.annotate(running_vms=Count("instances", filter=Q(instances__deleted=False)))


def _host_facts(host: ComputeHost) -> dict:
    """Which accelerator the host's guests run on and why (hypervisor_type says KVM or QEMU, as Nova
    does; the reason tells an operator why a host with /dev/kvm still runs TCG), and how it networks
    them (bridges, or user networking and why)."""
    facts = {}
    if host.accelerator:
        facts.update(accelerator=host.accelerator, accelerator_reason=host.accelerator_reason)
    if host.networking:
        facts.update(networking=host.networking.get("mode"), networking_reason=host.networking.get("reason"))
    return facts


def hypervisor_json(request, host: ComputeHost, detail: bool) -> dict:
    version = request.api_version
    out: dict = {
        "id": str(host.uuid) if version >= "2.53" else host.pk,
        "hypervisor_hostname": host.name,
        "state": "up" if host.is_up else "down",
        "status": "enabled" if host.enabled else "disabled",
    }
    if not detail:
        return out
    out.update(
        {
            "hypervisor_type": host.hypervisor_type.upper() if host.hypervisor_type != "fake" else "fake",
            "hypervisor_version": 1,
            "host_ip": "127.0.0.1",
            "service": {
                "host": host.name,
                "id": str(host.uuid) if version >= "2.53" else host.pk,
                "disabled_reason": host.disabled_reason or None,
            },
        }
    )
    if version < "2.88":
        out.update(
            {
                "vcpus": host.vcpus,
                "memory_mb": host.memory_mb,
                "local_gb": host.local_gb,
                "vcpus_used": host.vcpus_used,
                "memory_mb_used": host.memory_mb_used,
                "local_gb_used": host.local_gb_used,
                "free_ram_mb": host.memory_mb - host.memory_mb_used,
                "free_disk_gb": host.local_gb - host.local_gb_used,
                "current_workload": 0,
                "running_vms": host.running_vms,
                "disk_available_least": host.local_gb - host.local_gb_used,
                "cpu_info": {"arch": host.arch, "uefi": host.uefi, **_host_facts(host)},
            }
        )
        if version < "2.28":  # Nova's cpu_info was JSON text before 2.28
            out["cpu_info"] = json.dumps(out["cpu_info"])
    else:
        out["uptime"] = None
    return out


def _host_by_id(request, hypervisor_id: str) -> ComputeHost:
    qs = _hosts()
    try:
        host = qs.filter(uuid=uuid.UUID(hypervisor_id)).first()
    except ValueError:
        host = qs.filter(pk=int(hypervisor_id)).first() if hypervisor_id.isdigit() else None
    if host is None:
        raise NotFound(f"Hypervisor with ID {hypervisor_id} could not be found.")
    return host


class HypervisorListView(ComputeView):
    detail = False

    def get(self, request):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.HYPERVISORS_DETAIL if self.detail else policies.HYPERVISORS_LIST)
        hosts = _hosts()
        pattern = request.query_params.get("hypervisor_hostname_pattern")
        if pattern:
            hosts = hosts.filter(name__icontains=pattern)
        return Response({"hypervisors": [hypervisor_json(request, h, self.detail) for h in hosts]})


class HypervisorDetailListView(HypervisorListView):
    detail = True


def host_uptime(host: ComputeHost) -> str | None:
    """The host's uptime line, asked of its agent (None while the host is down, as Nova's)."""
    if not host.is_up:
        return None
    return rpc.call("instances.host_uptime", host.name)


class HypervisorView(ComputeView):
    def get(self, request, hypervisor_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.HYPERVISORS_SHOW)
        host = _host_by_id(request, hypervisor_id)
        body = hypervisor_json(request, host, True)
        if request.api_version >= "2.88":  # the uptime moved here from .../uptime (lists leave it null)
            body["uptime"] = host_uptime(host)
        return Response({"hypervisor": body})


class HypervisorUptimeView(ComputeView):
    """``GET /os-hypervisors/{id}/uptime`` (up to 2.87)."""

    def get(self, request, hypervisor_id: str):
        _before(request, "2.88")
        authorize(request.auth, policies.HYPERVISORS_UPTIME)
        host = _host_by_id(request, hypervisor_id)
        body = {**hypervisor_json(request, host, False), "uptime": host_uptime(host)}
        return Response({"hypervisor": body})


def _before(request, version: str) -> None:
    """Nova's answer to a method its microversion no longer has."""
    if request.api_version >= version:
        raise NotFound("The resource could not be found.")


_STATISTICS = (
    "vcpus",
    "memory_mb",
    "local_gb",
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "free_ram_mb",
    "free_disk_gb",
    "current_workload",
    "running_vms",
    "disk_available_least",
)


class HypervisorStatisticsView(ComputeView):
    """``GET /os-hypervisors/statistics`` (up to 2.87): the hosts' capacity and use, summed."""

    def get(self, request):
        _before(request, "2.88")
        authorize(request.auth, policies.HYPERVISORS_STATISTICS)
        hosts = [hypervisor_json(request, h, True) for h in _hosts()]
        totals = {key: sum(h[key] for h in hosts) for key in _STATISTICS}
        return Response({"hypervisor_statistics": {"count": len(hosts), **totals}})


def _matching(pattern: str) -> list[ComputeHost]:
    # Host names ignore case, as DNS does (and as Nova's LIKE on MySQL), on every database.
    hosts = list(_hosts().filter(name__icontains=pattern))
    if not hosts:
        raise NotFound(f"No hypervisor matching '{pattern}' could be found.")
    return hosts


class HypervisorSearchView(ComputeView):
    """``GET /os-hypervisors/{pattern}/search`` (up to 2.52)."""

    def get(self, request, pattern: str):
        _before(request, "2.53")
        authorize(request.auth, policies.HYPERVISORS_SEARCH)
        return Response({"hypervisors": [hypervisor_json(request, h, False) for h in _matching(pattern)]})


class HypervisorServersView(ComputeView):
    """``GET /os-hypervisors/{pattern}/servers`` (up to 2.52): the hosts and their servers."""

    def get(self, request, pattern: str):
        _before(request, "2.53")
        authorize(request.auth, policies.HYPERVISORS_SERVERS)
        out = []
        for host in _matching(pattern):
            body = hypervisor_json(request, host, False)
            servers = host.instances.filter(deleted=False).order_by("created_at").values_list("pk", "name")
            if servers:
                body["servers"] = [{"uuid": str(pk), "name": name} for pk, name in servers]
            out.append(body)
        return Response({"hypervisors": out})


class AvailabilityZoneView(ComputeView):
    detail = False

    def get(self, request):
        ctx: RequestContext = request.auth
        authorize(
            ctx, policies.AZ_DETAIL if self.detail else policies.AZ_LIST, {"project_id": ctx.project_id}
        )
        zones: dict[str, list[ComputeHost]] = {}
        for host in ComputeHost.objects.all():
            zones.setdefault(host.availability_zone, []).append(host)
        info = []
        for name, members in sorted(zones.items()):
            available = any(h.enabled and h.is_up for h in members)
            if not available and not self.detail:
                continue
            hosts = None
            if self.detail:
                hosts = {
                    h.name: {
                        "nova-compute": {
                            "available": h.is_up,
                            "active": h.enabled,
                            "updated_at": h.last_heartbeat.isoformat() if h.last_heartbeat else None,
                        }
                    }
                    for h in members
                }
            info.append({"zoneName": name, "zoneState": {"available": available}, "hosts": hosts})
        return Response({"availabilityZoneInfo": info})


class AvailabilityZoneDetailView(AvailabilityZoneView):
    detail = True


def service_json(request, host: ComputeHost) -> dict:
    service = {
        "id": str(host.uuid) if request.api_version >= "2.53" else host.pk,
        "binary": "nova-compute",
        "host": host.name,
        "zone": host.availability_zone,
        "status": "enabled" if host.enabled else "disabled",
        "state": "up" if host.is_up else "down",
        "updated_at": host.last_heartbeat.isoformat() if host.last_heartbeat else None,
        "disabled_reason": host.disabled_reason or None,
    }
    if request.api_version >= "2.11":  # forced_down came with 2.11; older clients refuse the key
        service["forced_down"] = host.forced_down
    return service


class ServiceListView(ComputeView):
    def get(self, request):
        authorize(request.auth, policies.SERVICES_UPDATE)
        hosts = ComputeHost.objects.all()
        if request.query_params.get("host"):
            hosts = hosts.filter(name=request.query_params["host"])
        if request.query_params.get("binary") not in (None, "nova-compute"):
            hosts = hosts.none()
        return Response({"services": [service_json(request, h) for h in hosts]})


class ServiceView(ComputeView):
    """``PUT /os-services/{id}`` (2.53+): {"status": "enabled"|"disabled", "disabled_reason",
    "forced_down": bool}; ``DELETE`` removes a host that holds no instances."""

    def put(self, request, service_id: str):
        authorize(request.auth, policies.SERVICES_UPDATE)
        host = _host_by_id(request, service_id)
        body = request.data if isinstance(request.data, dict) else {}
        extra = sorted(set(body) - {"status", "disabled_reason", "forced_down"})
        if extra or not body:
            raise BadRequest(
                "Invalid input: give status (enabled or disabled), disabled_reason or forced_down"
                + (f"; unexpected: {', '.join(extra)}" if extra else "")
            )
        status = body.get("status")
        if status is not None and status not in ("enabled", "disabled"):
            raise BadRequest("Invalid input for field/attribute status. It must be enabled or disabled.")
        reason = body.get("disabled_reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
            raise BadRequest(
                "Invalid input for field/attribute disabled_reason. It must be at most 255 characters."
            )
        if reason is not None and status != "disabled":
            raise BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
        forced = body.get("forced_down")
        if forced is not None and not isinstance(forced, bool):
            raise BadRequest("Invalid input for field/attribute forced_down. It must be a boolean.")
        if status is not None:
            host = host_services.set_enabled(host, status == "enabled", reason or "")
        if forced is not None:
            host = host_services.set_forced_down(host, forced)
        return Response({"service": service_json(request, host)})

    def delete(self, request, service_id: str):
        authorize(request.auth, policies.SERVICES_DELETE)
        host = _host_by_id(request, service_id)
        host_services.remove_host(host)
        return Response(status=204)


class MigrationListView(ComputeView):
    """``GET /os-migrations``: every move between hosts, newest first (Nova's fields per
    microversion; filters host, status, instance_uuid, migration_type, source_compute, limit)."""

    def get(self, request):
        authorize(request.auth, policies.MIGRATIONS_INDEX)
        params = request.query_params
        qs = Migration.objects.select_related("instance")
        if params.get("host"):
            qs = qs.filter(Q(source_compute=params["host"]) | Q(dest_compute=params["host"]))
        if params.get("source_compute"):
            qs = qs.filter(source_compute=params["source_compute"])
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("instance_uuid"):
            try:
                qs = qs.filter(instance_id=uuid.UUID(params["instance_uuid"]))
            except ValueError:
                qs = qs.none()
        if params.get("migration_type"):
            qs = qs.filter(migration_type=params["migration_type"])
        limit = params.get("limit")
        if limit is not None:
            if not limit.isdigit():
                raise BadRequest(
                    "Invalid input for query parameters limit. It must be a non-negative integer."
                )
            qs = qs[: min(int(limit), settings.COMPUTE_API_MAX_LIMIT)]
        else:
            qs = qs[: settings.COMPUTE_API_MAX_LIMIT]
        return Response({"migrations": [migration_json(request, m) for m in qs]})


def _flavor_number(flavor_ref: str) -> int | None:
    """Nova's *_instance_type_id is its internal flavor number, an integer no other API takes:
    here the flavor's id where that is a number (the default flavors' are), else null."""
    return int(flavor_ref) if flavor_ref.isdecimal() and int(flavor_ref) <= MAX_INT else None


def migration_json(request, m: Migration) -> dict:
    version = request.api_version
    out = {
        "id": m.pk,
        "instance_uuid": str(m.instance_id),
        "source_compute": m.source_compute,
        "source_node": m.source_compute,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_compute,
        "dest_host": m.dest_compute,
        "old_instance_type_id": _flavor_number(m.old_flavor_ref),
        "new_instance_type_id": _flavor_number(m.new_flavor_ref),
        "status": m.status,
        "created_at": m.created_at.isoformat(),
        "updated_at": m.updated_at.isoformat(),
    }
    if version >= "2.23":
        out["migration_type"] = m.migration_type
    if version >= "2.59":
        out["uuid"] = str(m.uuid)
    if version >= "2.80":
        out["user_id"] = m.user_id or None
        out["project_id"] = m.project_id or None
    return out


# -- quotas and limits ---------------------------------------------------------------------------


def fixed_limits(request=None, network_until: str = "2.36") -> dict:
    """The default limits Nova reports beside the counted ones, per microversion: metadata items,
    file injection until 2.57, the network quotas until 2.36 (a quota class shows them until 2.50).
    An admin changes them in the default quota class; nothing counts against them."""
    version = request.api_version if request is not None else None
    values = project_quotas.defaults()
    out = {"metadata_items": values["metadata_items"]}
    if version is None or version < "2.57":
        out.update({k: values[k] for k in quotas.INJECTION_LIMITS})
    if version is not None and version < network_until:
        out.update({k: values[k] for k in quotas.NETWORK_LIMITS})
    return out


def quota_set(request, project_id: str, with_usage: bool) -> dict:
    limits = quotas.limits_for(project_id)
    used = quotas.usage_of(project_id)
    out: dict = {"id": project_id}
    for name in quotas.RESOURCES:
        out[name] = (
            {"limit": limits[name], "in_use": getattr(used, name), "reserved": 0}
            if with_usage
            else limits[name]
        )
    for name, value in fixed_limits(request).items():
        out[name] = {"limit": value, "in_use": 0, "reserved": 0} if with_usage else value
    # Members are counted per group; Nova reports 0 in use for them here.
    groups_used = {"server_groups": ServerGroup.objects.for_project(project_id).count() if with_usage else 0}
    for name in quotas.GROUP_RESOURCES:
        value = limits[name]
        out[name] = (
            {"limit": value, "in_use": groups_used.get(name, 0), "reserved": 0} if with_usage else value
        )
    # Key pairs are counted per user, as Nova does: the caller's own.
    limit = limits["key_pairs"]
    in_use = keypairs.key_pairs_in_use(request.auth.user.pk) if with_usage else 0
    out["key_pairs"] = {"limit": limit, "in_use": in_use, "reserved": 0} if with_usage else limit
    return out


class QuotaSetView(ComputeView):
    detail = False

    def get(self, request, project_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.QUOTA_SHOW, {"project_id": project_id})
        usage = self.detail or request.query_params.get("usage", "").lower() in ("true", "1")
        return Response({"quota_set": quota_set(request, project_id, usage)})

    def put(self, request, project_id: str):
        ctx: RequestContext = request.auth
        authorize(ctx, policies.QUOTA_UPDATE, {"project_id": project_id})
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            raise BadRequest(f"Project ID {project_id} is not a valid project.")
        body = request.data.get("quota_set") if isinstance(request.data, dict) else None
        if not isinstance(body, dict):
            raise BadRequest(
                "Invalid input for field/attribute quota_set. 'quota_set' is a required property"
            )
        values = {}
        for name in (*quotas.RESOURCES, *quotas.GROUP_RESOURCES, "key_pairs"):
            if name in body:
                try:
                    value = int(body[name])
                except (TypeError, ValueError) as exc:
                    raise BadRequest(f"Invalid input for field/attribute {name}.") from exc
                values[name] = value
        # Below the usage is refused (400, with what is in use) unless the body says "force".
        force = str(body.get("force", "")).lower() in ("true", "1")
        quotas.set_limits(project, values, force=force)
        out = quota_set(request, project_id, False)
        out.pop("id")
        return Response({"quota_set": out})

    def delete(self, request, project_id: str):
        """Back to the defaults (Nova answers 202 with no body)."""
        authorize(request.auth, policies.QUOTA_DELETE, {"project_id": project_id})
        quotas.reset_limits(project_id)
        return self.empty(202)


class QuotaSetDetailView(QuotaSetView):
    detail = True
    http_method_names = ["get", "head", "options"]


class QuotaDefaultsView(ComputeView):
    def get(self, request, project_id: str):
        authorize(request.auth, policies.QUOTA_DEFAULTS, {"project_id": project_id})
        defaults = {
            **quotas.defaults(),
            **fixed_limits(request),
            "key_pairs": project_quotas.defaults()["key_pairs"],
        }
        return Response({"quota_set": {"id": project_id, **defaults}})


class QuotaClassSetView(ComputeView):
    """os-quota-class-sets: only the "default" class exists, the defaults of Admin → Defaults
    (``openstack quota show --class default``, ``openstack quota set --class default …``); it also
    holds the uncounted limits Nova reports (metadata items, file injection, network quotas)."""

    COUNTED = (*quotas.RESOURCES, *quotas.GROUP_RESOURCES, "key_pairs")

    def _check(self, class_name: str) -> None:
        if class_name != "default":
            raise NotFound(f"Quota class {class_name} not found: only 'default' exists.")

    def _shown(self, request) -> dict:
        defaults = project_quotas.defaults()
        return {
            **{name: defaults[name] for name in self.COUNTED},
            **fixed_limits(request, network_until="2.50"),
        }

    def get(self, request, class_name: str):
        authorize(request.auth, policies.QUOTA_CLASS_SHOW)
        self._check(class_name)
        return Response({"quota_class_set": {"id": class_name, **self._shown(request)}})

    def put(self, request, class_name: str):
        authorize(request.auth, policies.QUOTA_CLASS_UPDATE)
        self._check(class_name)
        body = request.data.get("quota_class_set") if isinstance(request.data, dict) else None
        if not isinstance(body, dict):
            raise BadRequest(
                "Invalid input for field/attribute quota_class_set. 'quota_class_set' is a required property"
            )
        unknown = set(body) - set(self._shown(request))
        if unknown:
            raise BadRequest(
                f"Additional properties are not allowed ({', '.join(repr(k) for k in sorted(unknown))} "
                f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
            )
        values = {}
        for name, raw in body.items():
            try:
                values[name] = int(raw)
            except (TypeError, ValueError) as exc:
                raise BadRequest(f"Invalid input for field/attribute {name}.") from exc
            if isinstance(raw, bool):
                raise BadRequest(f"Invalid input for field/attribute {name}.")
        project_quotas.set_defaults(values)
        return Response({"quota_class_set": self._shown(request)})


class LimitsView(ComputeView):
    def get(self, request):
        ctx: RequestContext = request.auth
        project_id = request.query_params.get("tenant_id") if ctx.is_admin else None
        project_id = project_id or ctx.project_id
        authorize(ctx, policies.LIMITS, {"project_id": ctx.project_id})
        limits, used = quotas.limits_for(project_id), quotas.usage_of(project_id)
        uncounted = project_quotas.defaults()
        absolute = {
            "maxTotalInstances": limits["instances"],
            "maxTotalCores": limits["cores"],
            "maxTotalRAMSize": limits["ram"],
            "totalInstancesUsed": used.instances,
            "totalCoresUsed": used.cores,
            "totalRAMUsed": used.ram,
            "maxServerMeta": uncounted["metadata_items"],
            "maxImageMeta": 128,
            "maxPersonality": uncounted["injected_files"],
            "maxPersonalitySize": uncounted["injected_file_content_bytes"],
            "maxTotalKeypairs": limits["key_pairs"],
            "maxServerGroups": limits["server_groups"],
            "maxServerGroupMembers": limits["server_group_members"],
            "totalServerGroupsUsed": ServerGroup.objects.for_project(project_id).count(),
        }
        version = request.api_version
        if version < "2.36":
            absolute.update(
                maxSecurityGroups=uncounted["security_groups"],
                maxSecurityGroupRules=uncounted["security_group_rules"],
                maxTotalFloatingIps=uncounted["floating_ips"],
                totalFloatingIpsUsed=0,
                totalSecurityGroupsUsed=0,
            )
        if version >= "2.39":
            del absolute["maxImageMeta"]
        if version >= "2.57":
            del absolute["maxPersonality"], absolute["maxPersonalitySize"]
        return Response({"limits": {"rate": [], "absolute": absolute}})
