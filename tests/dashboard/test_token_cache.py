"""Validated tokens are kept per process; every change to what a token stands on retires them."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.signals import user_logged_in
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import token_cache
from dashboard.models import Project, RevocationGeneration, Role, RoleAssignment, Token
from tests.factories import issue_token, make_project, make_user

pytestmark = pytest.mark.django_db

CATALOG = "/identity/v3/auth/catalog"


@pytest.fixture
def demo():
    # The row the migration creates; a flushed database (transactional tests) has lost it.
    RevocationGeneration.objects.get_or_create(pk=token_cache.SINGLETON)
    project = make_project("demo")
    user = make_user("alice", roles={project: "member"})
    return project, user


@pytest.fixture
def warm(client, demo):
    """A token that has been validated once, so this process keeps it."""
    project, user = demo
    raw = issue_token(user, project)
    assert client.get(CATALOG, HTTP_X_AUTH_TOKEN=raw).status_code == 200
    return raw


def test_a_kept_token_is_not_looked_up_again(client, warm):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(CATALOG, HTTP_X_AUTH_TOKEN=warm).status_code == 200
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert RevocationGeneration._meta.db_table in tables
    assert Token._meta.db_table not in tables
    assert RoleAssignment._meta.db_table not in tables


def test_without_the_generation_row_every_request_validates(client, warm):
    RevocationGeneration.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(CATALOG, HTTP_X_AUTH_TOKEN=warm).status_code == 200
    assert Token._meta.db_table in " ".join(q["sql"] for q in queries.captured_queries)


def _revoke(client, raw, project, user):
    headers = {"HTTP_X_AUTH_TOKEN": raw, "HTTP_X_SUBJECT_TOKEN": raw}
    assert client.delete("/identity/v3/auth/tokens", **headers).status_code == 204


def _delete_user(client, raw, project, user):
    user.delete()


def _disable_user(client, raw, project, user):
    user.is_active = False
    user.save()


def _remove_last_role(client, raw, project, user):
    user.assignments.get().delete()


def _disable_project(client, raw, project, user):
    project.enabled = False
    project.save()


def _delete_project(client, raw, project, user):
    Project.objects.filter(pk=project.pk).delete()


def _delete_the_token_row(client, raw, project, user):
    Token.objects.filter(pk=Token.digest(raw)).delete()


@pytest.mark.parametrize(
    "change",
    [_revoke, _delete_user, _disable_user, _remove_last_role, _disable_project, _delete_project,
     _delete_the_token_row],
)  # fmt: skip
def test_a_change_refuses_a_kept_token_on_the_next_request(client, demo, warm, change):
    project, user = demo
    change(client, warm, project, user)
    response = client.get(CATALOG, HTTP_X_AUTH_TOKEN=warm)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401


def test_a_demoted_user_keeps_the_token_with_the_new_roles_only(client, demo):
    project, user = demo
    admin_role, reader = Role.objects.get(name="admin"), Role.objects.get(name="reader")
    RoleAssignment.objects.create(user=user, project=project, role=admin_role)
    raw = issue_token(user, project)
    assert token_cache.context_for(raw).is_admin
    RoleAssignment.objects.filter(user=user, role=admin_role).delete()
    RoleAssignment.objects.filter(user=user).update(role=reader)  # no signal: the delete above retired it
    ctx = token_cache.context_for(raw)
    assert not ctx.is_admin and ctx.roles == frozenset({"reader"})


def test_a_login_stamp_does_not_retire_tokens(demo):
    project, user = demo
    before = token_cache.current_generation()
    user_logged_in.send(sender=type(user), request=RequestFactory().get("/"), user=user)
    assert token_cache.current_generation() == before
    user.first_name = "Alice"
    user.save()
    assert token_cache.current_generation() != before


def test_sweeping_expired_tokens_does_not_retire_the_live_ones(demo):
    project, user = demo
    past = timezone.now() - timedelta(seconds=1)
    for _ in range(3):
        Token.issue(user, project, ["password"], expires_at=past)
    before = token_cache.current_generation()
    assert Token.objects.filter(expires_at__lte=timezone.now()).delete()[0] == 3
    assert token_cache.current_generation() == before


def test_each_request_gets_its_own_copy_of_the_kept_objects(warm):
    first, second = token_cache.context_for(warm), token_cache.context_for(warm)
    assert first.user.pk == second.user.pk and first.user is not second.user
    assert first.token is not second.token and first.project is not second.project
    first.user.username = "changed"
    assert token_cache.context_for(warm).user.username == "alice"


def test_a_kept_token_is_refused_once_it_expires(client, warm):
    later = Token.objects.get(pk=Token.digest(warm)).expires_at + timedelta(seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert client.get(CATALOG, HTTP_X_AUTH_TOKEN=warm).status_code == 401
