"""Image members: the owner shares a `shared` image; the member project accepts or rejects it."""

from __future__ import annotations

from rest_framework.response import Response

from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize, can
from images import services
from images.api.fields import isotime
from images.api.views import GlanceView, empty, find_image
from images.models import ImageMember
from images.policies import target


def member_json(m: ImageMember) -> dict:
    return {
        "image_id": str(m.image_id),
        "member_id": m.member,
        "status": m.status,
        "created_at": isotime(m.created_at),
        "updated_at": isotime(m.updated_at),
        "schema": "/v2/schemas/member",
    }


class MemberCollection(GlanceView):
    def get(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "get_members", target(ctx, image))
        members = list(image.members.all())
        if not ctx.is_admin and image.owner != ctx.project_id:
            members = [m for m in members if m.member == ctx.project_id]
        return Response({"members": [member_json(m) for m in members], "schema": "/v2/schemas/members"})

    def post(self, request, image_id):
        ctx = request.auth
        image = find_image(ctx, image_id)
        authorize(ctx, "add_member", target(ctx, image))
        member = request.data.get("member") if isinstance(request.data, dict) else None
        if not isinstance(member, str) or not 0 < len(member) <= 64:
            raise BadRequest('The body must name a member project: {"member": "<project id>"}.')
        return Response(member_json(services.add_member(image, member)))


class MemberItem(GlanceView):
    def _membership(self, ctx, image_id, member_id) -> tuple:
        image = find_image(ctx, image_id)
        membership = image.members.filter(member=member_id).first()
        visible = ctx.is_admin or image.owner == ctx.project_id or member_id == ctx.project_id
        if membership is None or not visible:
            raise NotFound(f"{member_id} is not a member of image {image_id}.")
        return image, membership

    def get(self, request, image_id, member_id):
        ctx = request.auth
        image, membership = self._membership(ctx, image_id, member_id)
        if not can(ctx, "get_member", target(ctx, image)):
            raise NotFound(f"{member_id} is not a member of image {image_id}.")
        return Response(member_json(membership))

    def put(self, request, image_id, member_id):
        ctx = request.auth
        image, membership = self._membership(ctx, image_id, member_id)
        authorize(ctx, "modify_member", {**target(ctx, image), "member_id": member_id})
        status = request.data.get("status") if isinstance(request.data, dict) else None
        return Response(member_json(services.set_member_status(membership, status)))

    def delete(self, request, image_id, member_id):
        ctx = request.auth
        image, membership = self._membership(ctx, image_id, member_id)
        authorize(ctx, "delete_member", target(ctx, image))
        membership.delete()
        return empty()
