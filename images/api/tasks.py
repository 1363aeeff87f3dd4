"""Glance's tasks: the tasks of an image (``GET /v2/images/{id}/tasks``, 2.12), and the tasks API
(``GET /v2/tasks``, ``GET /v2/tasks/{id}``, ``POST /v2/tasks`` of type ``import``: create an image
from ``image_properties`` and import it from the ``import_from`` URL), which Glance keeps for
administrators."""

from __future__ import annotations

import uuid

from django.db import transaction
from rest_framework import status
from rest_framework.response import Response

from dashboard.exceptions import BadRequest, NotFound
from dashboard.policy import authorize
from images import services
from images.api.data import check_remote
from images.api.views import GlanceView, find_image, new_image_fields
from images.choices import ImportMethod
from images.models import ImageTask


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def task_json(task: ImageTask, *, full: bool = True) -> dict:
    body = {
        "id": str(task.pk),
        "type": task.type,
        "status": task.status,
        "owner": task.owner,
        "expires_at": _time(task.expires_at),
        "created_at": _time(task.created_at),
        "updated_at": _time(task.updated_at),
        "self": f"/v2/tasks/{task.pk}",
        "schema": "/v2/schemas/task",
    }
    if full:  # Glance's task lists leave out what was asked and how it ended
        body.update(
            input=task.input,
            result=task.result,
            message=task.message,
            image_id=task.image_id or None,
            request_id=task.request_id or None,
            user_id=task.user_id or None,
        )
    return body


def _request_id(request) -> str:
    return getattr(request, "request_id", "") or ""


class ImageTasks(GlanceView):
    def get(self, request, image_id):
        image = find_image(request.auth, image_id)
        tasks = ImageTask.objects.filter(image_id=str(image.pk))
        return Response({"tasks": [task_json(t) for t in tasks]})


class TaskCollection(GlanceView):
    def get(self, request):
        ctx = request.auth
        authorize(ctx, "tasks_api_access", {"project_id": ctx.project_id})
        authorize(ctx, "get_tasks", {"project_id": ctx.project_id})
        params = request.query_params
        qs = ImageTask.objects.all()
        for name in ("type", "status"):
            if params.get(name):
                qs = qs.filter(**{name: params[name]})
        try:
            limit = int(params.get("limit", 25))
        except ValueError as exc:
            raise BadRequest("limit param must be an integer") from exc
        if limit < 0:
            raise BadRequest("limit param must be positive")
        if params.get("marker"):
            anchor = qs.filter(pk=_uuid(params["marker"])).first()
            if anchor is None:
                raise BadRequest(f"Invalid marker. Task {params['marker']} could not be found.")
            qs = qs.filter(created_at__lte=anchor.created_at).exclude(pk=anchor.pk)
        page = list(qs[:limit])
        body: dict = {"tasks": [task_json(t, full=False) for t in page], "schema": "/v2/schemas/tasks"}
        if page and len(page) == limit:
            body["next"] = f"/v2/tasks?limit={limit}&marker={page[-1].pk}"
        body["first"] = "/v2/tasks"
        return Response(body)

    def post(self, request):
        ctx = request.auth
        authorize(ctx, "tasks_api_access", {"project_id": ctx.project_id})
        authorize(ctx, "add_task", {"project_id": ctx.project_id})
        body = request.data if isinstance(request.data, dict) else {}
        if body.get("type") != "import":
            raise BadRequest(f"Invalid type value: {body.get('type')}. The only task type is 'import'.")
        task_input = body.get("input")
        if not isinstance(task_input, dict):
            raise BadRequest("Input is required: import_from, import_from_format and image_properties.")
        wanted = ("import_from", "import_from_format", "image_properties")
        missing = [k for k in wanted if k not in task_input]
        if missing:
            raise BadRequest(f"Invalid input: {', '.join(missing)} is missing.")
        properties = task_input["image_properties"]
        if not isinstance(properties, dict):
            raise BadRequest("Invalid input: image_properties must be an object.")
        uri = task_input["import_from"]
        check_remote(uri)
        if task_input["import_from_format"] != properties.get("disk_format"):
            raise BadRequest("Invalid input: import_from_format must be the image's disk_format.")
        owner, attrs, props, tags = new_image_fields(ctx, properties)
        for name in ("disk_format", "container_format"):
            if not attrs.get(name):
                raise BadRequest(f"Invalid input: image_properties needs {name}.")
        origin = services.TaskOrigin(
            input=task_input, user_id=str(ctx.user.pk), request_id=_request_id(request), type="import"
        )
        with transaction.atomic():
            image = services.create_image(owner, attrs, props, tags)
            authorize(ctx, "upload_image", {"project_id": ctx.project_id, "owner": owner})
            services.start_import(image, ImportMethod.WEB_DOWNLOAD, uri, task=origin)
        task = ImageTask.objects.filter(image_id=str(image.pk)).first()
        return Response(task_json(task), status=status.HTTP_201_CREATED)


class TaskItem(GlanceView):
    def get(self, request, task_id):
        ctx = request.auth
        authorize(ctx, "tasks_api_access", {"project_id": ctx.project_id})
        authorize(ctx, "get_task", {"project_id": ctx.project_id})
        task = ImageTask.objects.filter(pk=_uuid(task_id)).first()
        if task is None:
            raise NotFound(f"Task with identifier {task_id} not found")
        return Response(task_json(task))


def _uuid(value: str):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
