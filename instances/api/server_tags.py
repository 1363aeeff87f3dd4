"""Nova's server tags (2.26): ``/servers/{id}/tags`` (GET, PUT replaces, DELETE all) and
``/servers/{id}/tags/{tag}`` (GET 204/404, PUT 201/204, DELETE)."""

from __future__ import annotations

from rest_framework.response import Response

from dashboard.api.compute import ComputeView, compute_url
from dashboard.context import RequestContext
from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize
from instances import policies
from instances.api.servers import get_server
from instances.models import Instance
from instances.services import server_edit

MIN_VERSION = "2.26"


class _TagView(ComputeView):
    def server(self, request, server_id: str, rule: str, action: str = "") -> Instance:
        """The server, once the microversion, the policy and (for a change, named ``action`` as
        Nova names it in its 409) the server's state allow it."""
        if request.api_version < MIN_VERSION:
            raise NotFound("The resource could not be found.")
        ctx: RequestContext = request.auth
        instance = get_server(ctx, server_id)
        authorize(ctx, rule, {"project_id": instance.project_id})
        if action:
            server_edit.check_taggable(instance, action)
        return instance


class TagListView(_TagView):
    def get(self, request, server_id: str):
        instance = self.server(request, server_id, policies.TAGS_INDEX)
        return Response({"tags": instance.tag_names})

    def put(self, request, server_id: str):
        instance = self.server(request, server_id, policies.TAGS_UPDATE_ALL, "update tags")
        body = request.data
        if not isinstance(body, dict) or "tags" not in body:
            raise BadRequest("Invalid input for field/attribute tags. 'tags' is a required property")
        tags = server_edit.check_tags(body["tags"])
        return Response({"tags": server_edit.replace_tags(instance, tags)})

    def delete(self, request, server_id: str):
        instance = self.server(request, server_id, policies.TAGS_DELETE_ALL, "delete tags")
        server_edit.remove_all_tags(instance)
        return self.empty(204)


class TagView(_TagView):
    def get(self, request, server_id: str, tag: str):
        instance = self.server(request, server_id, policies.TAGS_SHOW)
        if not instance.tags.filter(tag=tag).exists():
            raise NotFound(f"Server {instance.pk} has no tag '{tag}'")
        return self.empty(204)

    def put(self, request, server_id: str, tag: str):
        instance = self.server(request, server_id, policies.TAGS_UPDATE, "update tag")
        reason = server_edit.tag_error(tag)
        if reason:
            raise BadRequest(
                f"Tag '{tag}' is invalid. It must be a non empty string without characters '/' "
                f"and ','. Validation error message: {reason}"
            )
        if not server_edit.add_tag(instance, tag):
            return self.empty(204)
        response = self.empty(201)
        response["Location"] = f"{compute_url(request)}/v2.1/servers/{instance.pk}/tags/{tag}"
        return response

    def delete(self, request, server_id: str, tag: str):
        instance = self.server(request, server_id, policies.TAGS_DELETE, "delete tag")
        server_edit.remove_tag(instance, tag)
        return self.empty(204)
