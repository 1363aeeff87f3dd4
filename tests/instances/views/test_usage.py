"""Project → Usage and Admin → Usage, with their CSV downloads, through the real URLs."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.models import Project, User
from instances.models import Instance
from tests.instances.dashboard_support import PERSONAS, browser_for, bulk_instances

pytestmark = pytest.mark.django_db


@pytest.fixture
def ran(world, tiny):
    """Two instances of home that ran in the last days; one of another project."""
    now = timezone.now()
    bulk_instances(world["home"], 2, flavor=tiny, vcpus=2)
    Instance.objects.filter(project=world["home"]).update(launched_at=now - timedelta(days=3))
    bulk_instances(world["other"], 1, flavor=tiny)
    Instance.objects.filter(project=world["other"]).update(launched_at=now - timedelta(days=1))
    return now


def period(now, days: int = 5) -> dict:
    start = timezone.localdate(now) - timedelta(days=days)
    return {"start": start.isoformat(), "end": timezone.localdate(now).isoformat()}


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_members_see_their_project_s_usage_and_download_it(world, ran):
    member = browser_for("member")
    page = member.get("/usage/", period(ran)).content.decode()
    assert page.count("data-usage-instance=") == 2
    assert 'data-testid="total-hours">144.00<' in page  # 2 instances × 72 h
    rows = csv_rows(member.get("/usage/", {**period(ran), "format": "csv"}))
    assert rows[0] == ["Usage of project", "home", world["home"].pk]
    assert rows[2][:4] == ["Instance", "ID", "Flavor", "vCPUs"]
    assert rows[-1][0] == "Total" and rows[-1][9:11] == ["144.00", "288.00"]
    # A period before the launches shows nothing; a reversed one is refused and shows this month.
    empty = member.get("/usage/", {"start": "2020-01-01", "end": "2020-01-31"}).content.decode()
    assert "No instance ran in this period." in empty
    wrong = member.get("/usage/", {"start": "2020-02-01", "end": "2020-01-01"}).content.decode()
    assert "The end of the period cannot come before its start." in wrong
    # The last day of the calendar (whose next day does not exist) is refused, not a crash.
    for bounds in (
        {"start": "2020-01-01", "end": "9999-12-31"},
        {"start": "0001-01-01", "end": "2020-01-01"},
    ):
        response = member.get("/usage/", bounds)
        assert response.status_code == 200
        assert "Choose a day from 1970-01-01 to 9999-12-30." in response.content.decode()
        assert member.get("/usage/", {**bounds, "format": "csv"}).status_code == 200


def test_the_csv_has_a_safe_file_name_and_the_user_s_time_zone(world, ran):
    Project.objects.filter(pk=world["home"].pk).update(name='Ünï "q"\r\nX-Evil: 1')
    User.objects.filter(username=PERSONAS["member"]).update(time_zone="Asia/Tokyo")
    response = browser_for("member").get(
        "/usage/", {"start": "2026-03-01", "end": "2026-03-02", "format": "csv"}
    )
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition == (
        'attachment; filename="usage-n-q-X-Evil-1-20260301-20260303.csv"; '
        "filename*=UTF-8''usage-%C3%9Cn%C3%AF%20%22q%22X-Evil%3A%201-20260301-20260303.csv"
    )
    rows = csv_rows(response)
    assert rows[1] == ["From", "2026-03-01 00:00:00 JST", "to", "2026-03-03 00:00:00 JST"]
    # Admin → Usage too, and every stamp of the rows in the user's zone.
    User.objects.filter(username=PERSONAS["admin"]).update(time_zone="America/New_York")
    admin = browser_for("admin").get(
        "/admin/usage/", {"start": "2026-03-01", "end": "2026-03-02", "format": "csv"}
    )
    assert csv_rows(admin)[0][1:4] == ["2026-03-01 00:00:00 EST", "to", "2026-03-03 00:00:00 EST"]
    now = browser_for("member").get("/usage/", {**period(ran), "format": "csv"})
    launched = csv_rows(now)[3][7]
    assert launched.endswith(" JST")


def test_admins_see_every_project_and_members_may_not(world, ran):
    admin = browser_for("admin")
    page = admin.get("/admin/usage/", period(ran)).content.decode()
    assert 'data-usage-project="home"' in page and 'data-usage-project="other"' in page
    rows = csv_rows(admin.get("/admin/usage/", {**period(ran), "format": "csv"}))
    by_name = {row[0]: row for row in rows[2:]}
    assert by_name["home"][2:5] == ["2", "144.00", "288.00"]
    assert by_name["other"][2:4] == ["1", "24.00"]
    assert browser_for("member").get("/admin/usage/").status_code == 403
    # A member of another project sees that project's instance only.
    outsider = browser_for("outsider").get("/usage/", period(ran)).content.decode()
    assert outsider.count("data-usage-instance=") == 1 and ">24.00<" in outsider


def test_the_usage_pages_cost_the_same_queries_for_many_instances(world, ran, tiny):
    admin = browser_for("admin")
    admin.get("/admin/usage/", period(ran))  # the session settles on the first request
    with CaptureQueriesContext(connection) as few:
        admin.get("/admin/usage/", period(ran))
    bulk_instances(world["home"], 40, flavor=tiny)
    Instance.objects.filter(launched_at__isnull=True).update(launched_at=ran - timedelta(hours=5))
    with CaptureQueriesContext(connection) as many:
        admin.get("/admin/usage/", period(ran))
    assert len(many) == len(few)
