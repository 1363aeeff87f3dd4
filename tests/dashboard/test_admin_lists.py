"""Query-count guards for the Admin Projects and Users lists: a list costs the same number of
queries for 3 rows as for 30 (no query per project, per user or per role assignment)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard.models import Project
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    ops = make_project("ops")
    client.force_login(make_user("boss", roles={ops: "admin"}))
    return client


def add_rows(count: int) -> list[str]:
    """``count`` projects, each with a user who is member there and reader of the previous
    project, so that every project has members and every user two role assignments."""
    names, previous = [], Project.objects.get(name="ops")
    for _ in range(count):
        project = make_project(f"proj-{uuid.uuid4().hex[:8]}", description="some text")
        make_user(
            f"user-{uuid.uuid4().hex[:8]}",
            roles={project: "member", previous: "reader"},
            email="someone@example.com",
        )
        names.append(project.name)
        previous = project
    return names


def count_queries(client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), queries


@pytest.mark.parametrize("url_name", ["admin-projects", "admin-users"])
def test_the_list_costs_the_same_queries_for_3_or_30_rows(admin_client, url_name):
    url = reverse(url_name)
    admin_client.get(url)  # the first page of a session also loads the session and the user
    few_names = add_rows(3)
    page, few = count_queries(admin_client, url)
    assert all(name in page for name in few_names)

    many_names = add_rows(27)
    page, many = count_queries(admin_client, url)
    assert all(name in page for name in few_names + many_names)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_the_projects_list_shows_member_counts_from_one_query(admin_client):
    names = add_rows(3)
    page, _ = count_queries(admin_client, reverse("admin-projects"))
    # The first project has its own member and the member of the next project as reader.
    first = Project.objects.get(name=names[0])
    assert first.assignments.values("user").distinct().count() == 2
    row = page[page.index(names[0]) :]
    row = row[: row.index("</tr>")]
    assert "<td>2</td>" in row


def test_the_users_list_shows_every_role_assignment(admin_client):
    names = add_rows(3)
    page, _ = count_queries(admin_client, reverse("admin-users"))
    assert "reader @ ops" in page
    assert all(f"member @ {name}" in page for name in names)
    # Each user is also reader of the previous project, so every project but the last has a reader.
    assert all(f"reader @ {name}" in page for name in names[:-1])
    assert f"reader @ {names[-1]}" not in page
