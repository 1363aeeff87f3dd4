"""Asking a compute agent a question and waiting for the answer (console output): the task is
sent to the host's queue with a fresh reply list name, the agent pushes its answer there, and
the caller blocks on the list with a timeout. No Celery result backend needed. A long answer (a
whole console log) comes as a stream of chunks on the list, ended by an empty one; the agent
keeps at most a few chunks ahead of the reader."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator

import redis
from django.conf import settings

from dashboard.celery import app
from dashboard.exceptions import StratusError


class AgentTimeout(StratusError):
    status = 504
    title = "Gateway Timeout"


# Chunks an agent may push ahead of the reader of a stream, and how long they wait for it.
STREAM_AHEAD = 16
STREAM_POLL = 0.05


def call(task_name: str, host_name: str, *args, timeout: float | None = None) -> str:
    reply_to = f"stratus:compute-reply:{uuid.uuid4().hex}"
    timeout = timeout or settings.COMPUTE_RPC_TIMEOUT
    app.send_task(task_name, args=[*args, reply_to], queue=f"compute.{host_name}")
    client = redis.Redis.from_url(settings.REDIS_URL)
    answer = client.blpop([reply_to], timeout=timeout)
    if answer is None:
        raise AgentTimeout(f"Compute host {host_name} did not answer within {timeout:.0f} seconds.")
    return answer[1].decode(errors="replace")


def stream(task_name: str, host_name: str, *args, timeout: float | None = None) -> Iterator[bytes]:
    """The chunks an agent streams back, as they come. The first one is awaited before this
    returns, so an agent that does not answer is an AgentTimeout here, not half way through."""
    reply_to = f"stratus:compute-reply:{uuid.uuid4().hex}"
    timeout = timeout or settings.COMPUTE_RPC_TIMEOUT
    app.send_task(task_name, args=[*args, reply_to], queue=f"compute.{host_name}")
    client = redis.Redis.from_url(settings.REDIS_URL)

    def receive() -> bytes:
        answer = client.blpop([reply_to], timeout=timeout)
        if answer is None:
            raise AgentTimeout(f"Compute host {host_name} did not answer within {timeout:.0f} seconds.")
        return answer[1]

    first = receive()

    def chunks() -> Iterator[bytes]:
        chunk = first
        while chunk:
            yield chunk
            chunk = receive()

    return chunks()


def reply_stream(reply_to: str, chunks: Iterable[bytes]) -> None:
    """The agent's end of :func:`stream`: push the chunks, never more than STREAM_AHEAD unread,
    then the empty end marker. A reader that stops reading is given up on after the RPC timeout."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for chunk in chunks:
        if not chunk:
            continue
        deadline = time.monotonic() + settings.COMPUTE_RPC_TIMEOUT
        while client.llen(reply_to) >= STREAM_AHEAD:
            if time.monotonic() > deadline:
                client.delete(reply_to)
                return
            time.sleep(STREAM_POLL)
        with client.pipeline() as pipe:
            pipe.rpush(reply_to, chunk)
            pipe.expire(reply_to, 120)
            pipe.execute()
    with client.pipeline() as pipe:
        pipe.rpush(reply_to, b"")
        pipe.expire(reply_to, 120)
        pipe.execute()
