"""Asking a compute agent a question and waiting for the answer (console output): the task is
sent to the host's queue with a fresh reply list name, the agent pushes its answer there, and
the caller blocks on the list with a timeout. No Celery result backend needed."""

from __future__ import annotations

import uuid

import redis
from django.conf import settings

from dashboard.celery import app
from dashboard.exceptions import StratusError


class AgentTimeout(StratusError):
    status = 504
    title = "Gateway Timeout"


def call(task_name: str, host_name: str, *args, timeout: float | None = None) -> str:

    reply_to = f"stratus:compute-reply:{uuid.uuid4().hex}"
    timeout = timeout or settings.COMPUTE_RPC_TIMEOUT
    app.send_task(task_name, args=[*args, reply_to], queue=f"compute.{host_name}")
    client = redis.Redis.from_url(settings.REDIS_URL)
    answer = client.blpop([reply_to], timeout=timeout)
    if answer is None:
        raise AgentTimeout(f"Compute host {host_name} did not answer within {timeout:.0f} seconds.")
    return answer[1].decode(errors="replace")
