"""Stratus's extension of the compute API: a server's port forwards, its public endpoints.

``GET /servers/{id}/os-port-forwards``, ``POST`` with ``{"port_forward": {"guest_port": 22}}``
(the host port is chosen from STRATUS_PORT_FORWARD_RANGE), ``DELETE …/os-port-forwards/{id}``.
"""

from __future__ import annotations

from rest_framework.response import Response

from dashboard.api.compute import ComputeView
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest
from dashboard.policy import authorize
from instances import policies
from instances.api.servers import get_server
from instances.models import PortForward
from instances.services import forwards


def forward_json(forward: PortForward) -> dict:
    return {
        "id": str(forward.pk),
        "host": forward.endpoint,
        "host_port": forward.host_port,
        "guest_port": forward.guest_port,
        "ssh": forward.ssh,
    }


class PortForwardListView(ComputeView):
    def get(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.PORT_FORWARDS_INDEX, {"project_id": instance.project_id})
        rows = instance.port_forwards.select_related("instance")
        return Response({"port_forwards": [forward_json(f) for f in rows]})

    def post(self, request, server_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.PORT_FORWARDS_CREATE, {"project_id": instance.project_id})
        body = request.data.get("port_forward") if isinstance(request.data, dict) else None
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise BadRequest("Invalid input for field/attribute port_forward. It must be an object.")
        forward = forwards.add_forward(instance, body.get("guest_port", 22))
        return Response({"port_forward": forward_json(forward)}, status=201)


class PortForwardView(ComputeView):
    def delete(self, request, server_id: str, forward_id: str):
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.PORT_FORWARDS_DELETE, {"project_id": instance.project_id})
        forwards.remove_forward(instance, forward_id)
        return self.empty(204)
