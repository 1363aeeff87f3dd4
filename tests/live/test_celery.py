"""A real Celery worker, fed through a real Redis, runs the periodic token purge."""

from __future__ import annotations

from tests.support.wait import wait_for

SETUP = """
from datetime import timedelta
from django.utils import timezone
from dashboard.models import Project, Token, User
user = User.objects.get(username="demo")
past = timezone.now() - timedelta(minutes=1)
raw, token = Token.issue(user, Project.objects.get(name="demo"), ["password"], expires_at=past)
print(token.id)
"""


def test_the_worker_purges_expired_tokens(live_stack):
    token_id = live_stack.shell(SETUP)
    live_stack.shell("from dashboard.tasks import purge_expired_tokens; purge_expired_tokens.delay()")
    exists = f"from dashboard.models import Token; print(Token.objects.filter(id='{token_id}').exists())"
    wait_for(lambda: live_stack.shell(exists) == "False", timeout=60, what="the worker to purge the token")
    assert "dashboard.tasks.purge_expired_tokens" in live_stack.log("worker")
