"""The outbox: a task whose state change committed reaches the broker, now or, when the broker is
away, once it is back (dashboard.celery.enqueue, dashboard.outbox.relay)."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.parse

import pytest
import redis
import requests
from django.conf import settings
from django.db import transaction

from dashboard.celery import enqueue
from dashboard.models import OutboxMessage
from dashboard.outbox import relay
from tests.support.processes import DEMO_PASSWORD, LiveStack
from tests.support.wait import wait_for


def _broker() -> redis.Redis:
    return redis.Redis(unix_socket_path=urllib.parse.urlparse(settings.REDIS_URL).path)


def _messages(queue: str) -> list[dict]:
    """The task messages waiting in a queue of the suite's real Redis: name and arguments."""
    found = []
    for raw in _broker().lrange(queue, 0, -1):
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        found.append({"task": envelope["headers"]["task"], "args": args})
    return found


@pytest.fixture
def queue():
    name = f"outbox-test-{secrets.token_hex(4)}"
    yield name
    _broker().delete(name)


@pytest.mark.django_db(transaction=True)
def test_a_task_is_written_with_its_state_change_and_sent_once_it_commits(queue):
    with transaction.atomic():
        enqueue("dashboard.tasks.purge_expired_tokens", "a", 1, queue=queue)
        # Written in the transaction, not sent yet: a worker must not see uncommitted rows.
        assert OutboxMessage.objects.filter(queue=queue).count() == 1
        assert _messages(queue) == []
    assert _messages(queue) == [{"task": "dashboard.tasks.purge_expired_tokens", "args": ["a", 1]}]
    assert not OutboxMessage.objects.filter(queue=queue).exists()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_sends_nothing_and_leaves_nothing(queue):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("dashboard.tasks.purge_expired_tokens", queue=queue)
        raise RuntimeError("the state change failed")
    assert _messages(queue) == []
    assert not OutboxMessage.objects.filter(queue=queue).exists()


@pytest.mark.django_db(transaction=True)
def test_the_relay_sends_what_the_broker_did_not_take_oldest_first(queue, settings):
    settings.OUTBOX_RELAY_GRACE = 0
    # As enqueue leaves them when the broker refused: kept, with the error.
    for n in range(3):
        OutboxMessage.objects.create(
            task_name="dashboard.tasks.purge_expired_tokens",
            args=[n],
            queue=queue,
            attempts=1,
            last_error="down",
        )
    report = relay()
    assert report["sent"] == 3 and report["failed"] == 0
    assert [m["args"] for m in _messages(queue)] == [[2], [1], [0]]  # LPUSH: the oldest is at the tail
    assert not OutboxMessage.objects.filter(queue=queue).exists()


@pytest.mark.django_db(transaction=True)
def test_the_relay_leaves_young_messages_to_the_process_sending_them(queue, settings):
    settings.OUTBOX_RELAY_GRACE = 3600
    OutboxMessage.objects.create(task_name="dashboard.tasks.purge_expired_tokens", args=[], queue=queue)
    assert relay()["sent"] == 0
    assert _messages(queue) == []
    assert OutboxMessage.objects.filter(queue=queue).count() == 1


def test_an_import_started_while_redis_is_down_runs_once_redis_is_back(tmp_path, stack_database):
    """The whole system: a glance-direct import is asked for while Redis is down. The request
    succeeds (its state change committed), the task waits in the outbox, and when Redis returns the
    relay on beat sends it and a worker makes the image active."""
    stack = LiveStack(
        tmp_path / "stack",
        extra_env={"STRATUS_OUTBOX_RELAY_INTERVAL": "1", "STRATUS_OUTBOX_RELAY_GRACE": "0"},
    )
    try:
        stack.start()
        stack.start_beat()
        api = requests.Session()
        api.headers["X-Auth-Token"] = stack.token("demo", DEMO_PASSWORD, "demo")
        images = f"{stack.url}/image/v2/images"
        created = api.post(images, json={"name": "outbox", "disk_format": "raw", "container_format": "bare"})
        assert created.status_code == 201, created.text
        image = created.json()
        staged = api.put(
            f"{images}/{image['id']}/stage",
            data=bytes(1 << 20),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert staged.status_code == 204, staged.text

        stack.redis.stop()
        started = api.post(f"{images}/{image['id']}/import", json={"method": {"name": "glance-direct"}})
        assert started.status_code == 202, started.text
        waiting = stack.shell(
            "from dashboard.models import OutboxMessage as M; "
            "print([m.task_name for m in M.objects.all()], M.objects.first().attempts)"
        )
        assert waiting == "['images.import_image'] 1"
        assert api.get(f"{images}/{image['id']}").json()["status"] == "importing"

        stack.restart_redis()
        wait_for(
            lambda: api.get(f"{images}/{image['id']}").json()["status"] == "active",
            timeout=90,
            what="the import to run once Redis is back",
        )
        assert stack.shell("from dashboard.models import OutboxMessage as M; print(M.objects.count())") == "0"
    finally:
        stack.stop()
