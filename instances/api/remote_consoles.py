"""Nova's remote consoles: ``POST /servers/{id}/remote-consoles`` (microversion 2.6 and later)
hands out the URL of a server's console in the browser (noVNC), with a fresh console token; the
older ``os-getVNCConsole`` server action (up to 2.5) is in servers.py. The token and what it opens
are instances/services/consoles.py's."""

from __future__ import annotations

from rest_framework.response import Response

from dashboard.api.compute import ComputeView
from dashboard.context import RequestContext
from dashboard.exceptions import NotFound
from dashboard.policy import authorize
from instances import policies
from instances.api import server_schemas
from instances.api.servers import get_server
from instances.services import consoles


class RemoteConsoleView(ComputeView):
    def post(self, request, server_id: str):
        if request.api_version < "2.6":
            raise NotFound("The resource could not be found.")
        ctx: RequestContext = request.auth
        protocol, console_type = server_schemas.remote_console(request.data)
        instance = get_server(ctx, server_id)
        authorize(ctx, policies.REMOTE_CONSOLES, {"project_id": instance.project_id})
        consoles.check_type(protocol, console_type)
        token = consoles.issue(ctx.user, instance, console_type)
        return Response(
            {
                "remote_console": {
                    "protocol": protocol,
                    "type": console_type,
                    "url": consoles.page_url(request, token),
                }
            }
        )
