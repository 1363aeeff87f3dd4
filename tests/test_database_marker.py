"""tests/plugin.py marks the tests that touch the database, which a PostgreSQL run selects."""

from __future__ import annotations

import pytest

from tests.support.processes import LiveStack


def marked(request) -> bool:
    return request.node.get_closest_marker("database") is not None


def test_a_test_without_the_database_is_not_marked(request):
    assert not marked(request)


@pytest.mark.django_db
def test_a_django_db_test_is_marked(request):
    assert marked(request)


def test_a_test_using_the_db_fixture_is_marked(request, db):
    assert marked(request)


def test_a_test_whose_fixtures_start_a_stack_is_marked(request, stack_database):
    assert marked(request)


def test_a_live_stack_refuses_to_start_for_a_test_that_is_not_marked(tmp_path):
    with pytest.raises(RuntimeError, match="stack_database"):
        LiveStack(tmp_path / "stack")
    assert not (tmp_path / "stack").exists()
