"""Querysets compiled once per shape and run with each call's own values."""

from __future__ import annotations

import pytest

from dashboard.prepared import PreparedQueries
from images.models import Image

pytestmark = pytest.mark.django_db


class CountingBuild:
    def __init__(self, make):
        self.make, self.calls = make, 0

    def __call__(self, values):
        self.calls += 1
        return self.make(values)


@pytest.fixture
def images():
    for name, owner in (("alpha", "p1"), ("beta", "p1"), ("gamma", "p2"), (None, "p2")):
        Image.objects.create(name=name, owner=owner)


def test_a_shape_compiles_once_and_binds_each_calls_values(images):
    queries = PreparedQueries()
    build = CountingBuild(lambda v: Image.objects.filter(owner=v["owner"]).values_list("name"))
    assert set(queries.fetch("by-owner", {"owner": "p1"}, build)) == {("alpha",), ("beta",)}
    assert set(queries.fetch("by-owner", {"owner": "p2"}, build)) == {(None,), ("gamma",)}
    assert queries.fetch("by-owner", {"owner": "p3"}, build) == []
    assert build.calls == 1


def test_a_transformed_value_makes_the_shape_compile_every_time(images):
    queries = PreparedQueries()
    build = CountingBuild(lambda v: Image.objects.filter(name__icontains=v["part"]).values_list("name"))
    assert queries.fetch("search", {"part": "alp"}, build) == [("alpha",)]
    assert queries.fetch("search", {"part": "amm"}, build) == [("gamma",)]
    assert build.calls == 3  # the marker compile, then each call's own


def test_none_is_not_bound_in_a_markers_place(images):
    queries = PreparedQueries()
    build = CountingBuild(lambda v: Image.objects.filter(name=v["name"]).values_list("owner"))
    assert queries.fetch("by-name", {"name": "beta"}, build) == [("p1",)]
    assert queries.fetch("by-name", {"name": None}, build) == [("p2",)]  # IS NULL, not = NULL


def test_a_shape_that_matches_nothing(images):
    queries = PreparedQueries()
    build = CountingBuild(lambda v: Image.objects.filter(owner=v["owner"], name__in=[]).values_list("name"))
    assert queries.fetch("nothing", {"owner": "p1"}, build) == []
    assert queries.fetch("nothing", {"owner": "p2"}, build) == []
    assert build.calls == 1


def test_no_shape_compiles_every_call(images):
    queries = PreparedQueries()
    build = CountingBuild(lambda v: Image.objects.filter(owner=v["owner"]).values_list("name"))
    queries.fetch(None, {"owner": "p1"}, build)
    queries.fetch(None, {"owner": "p1"}, build)
    assert build.calls == 2


def test_the_table_stays_bounded(images):
    queries = PreparedQueries(maxsize=8)
    build = CountingBuild(lambda v: Image.objects.filter(owner=v["owner"]).values_list("name"))
    for shape in range(50):
        assert len(queries.fetch(shape, {"owner": "p1"}, build)) == 2
    assert len(queries._compiled) <= 8
