"""os-simple-tenant-usage and the usage service behind it: hours from the recorded lifecycle
(launch, termination, size changes), cut to the period, in a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.choices import VmState
from instances.models import Instance, InstanceSizeChange
from instances.services import usage
from tests.instances.dashboard_support import bulk_instances

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(hour: float) -> datetime:
    return T0 + timedelta(hours=hour)


def instance(project, name: str, launched: float, terminated: float | None = None, **sizes) -> Instance:
    bulk_instances(project, 1, **sizes)
    row = Instance.objects.filter(project=project).order_by("-created_at").first()
    fields = {"name": name, "launched_at": at(launched)}
    if terminated is not None:
        fields.update(terminated_at=at(terminated), deleted=True, vm_state=VmState.DELETED)
    Instance.objects.filter(pk=row.pk).update(**fields)
    return Instance.objects.get(pk=row.pk)


@pytest.fixture
def lives(world):
    home, other = world["home"], world["other"]
    gone = instance(home, "gone", 10, 14, vcpus=2, memory_mb=1024, root_gb=10)
    resized = instance(home, "resized", 11, None, vcpus=2, memory_mb=2048, root_gb=10)
    InstanceSizeChange.record(
        resized.pk,
        at(13),
        InstanceSizeChange.sizes("small", 1, 512, 5, 0),
        InstanceSizeChange.sizes("large", 2, 2048, 10, 0),
    )
    instance(home, "later", 20)
    instance(other, "elsewhere", 12, 13, vcpus=4, memory_mb=128, root_gb=1)
    return {"gone": gone, "resized": resized}


def test_hours_follow_launch_termination_and_resizes_within_the_period(world, lives):
    found = usage.project_usage(world["home"].pk, at(12), at(15))
    servers = {s.name: s for s in found.servers}
    assert set(servers) == {"gone", "resized"}
    gone, resized = servers["gone"], servers["resized"]
    assert (gone.hours, gone.vcpu_hours, gone.memory_mb_hours, gone.local_gb_hours) == (2, 4, 2048, 20)
    assert gone.state == "terminated" and gone.uptime == 4 * 3600
    # One hour at the old sizes (12:00-13:00), two at the new ones.
    assert (resized.hours, resized.vcpu_hours, resized.memory_mb_hours, resized.local_gb_hours) == (
        3,
        1 + 2 * 2,
        512 + 2048 * 2,
        5 + 10 * 2,
    )
    assert (found.total_hours, found.total_vcpus_usage) == (5, 9)


def test_the_report_costs_the_same_queries_for_many_instances(world, lives):
    with CaptureQueriesContext(connection) as few:
        usage.usage_by_project(at(0), at(30))
    for n in range(10):
        instance(world["home"], f"more-{n}", 1, 2)
    with CaptureQueriesContext(connection) as many:
        report = usage.usage_by_project(at(0), at(30))
    assert len(report[world["home"].pk].servers) == 13
    assert len(many) == len(few) == 2


def test_admins_list_every_project_and_members_see_their_own(world, lives):
    query = "?start=2026-03-01T12:00:00&end=2026-03-01T15:00:00"
    listed = world["admin"].get(f"/os-simple-tenant-usage{query}&detailed=1").json()["tenant_usages"]
    by_project = {u["tenant_id"]: u for u in listed}
    assert set(by_project) == {world["home"].pk, world["other"].pk}
    assert by_project[world["other"].pk]["total_vcpus_usage"] == 4
    assert by_project[world["home"].pk]["total_hours"] == 5
    assert by_project[world["home"].pk]["start"] == "2026-03-01T12:00:00"
    assert {s["name"] for s in by_project[world["home"].pk]["server_usages"]} == {"gone", "resized"}
    summary = world["admin"].get(f"/os-simple-tenant-usage{query}").json()["tenant_usages"]
    assert "server_usages" not in summary[0]

    assert world["member"].get(f"/os-simple-tenant-usage{query}").status_code == 403
    own = world["member"].get(f"/os-simple-tenant-usage/{world['home'].pk}{query}").json()["tenant_usage"]
    assert own["total_memory_mb_usage"] == 2048 + 512 + 4096
    assert world["member"].get(f"/os-simple-tenant-usage/{world['other'].pk}{query}").status_code == 403
    empty = world["admin"].get(f"/os-simple-tenant-usage/{world['admin_home'].pk}{query}").json()
    assert empty == {"tenant_usage": {}}


def test_from_2_40_the_instances_are_paged_and_bad_periods_are_refused(world, lives):
    query = "?start=2026-03-01T00:00:00&end=2026-03-02T00:00:00&limit=2"
    first = world["admin"].get(f"/os-simple-tenant-usage{query}&detailed=1", "2.40").json()
    names = [s["name"] for u in first["tenant_usages"] for s in u["server_usages"]]
    assert len(names) == 2
    href = first["tenant_usages_links"][0]["href"]
    rest = world["admin"].get(href.split("/compute/v2.1")[1], "2.40").json()
    more = [s["name"] for u in rest["tenant_usages"] for s in u["server_usages"]]
    assert sorted(names + more) == ["elsewhere", "gone", "later", "resized"]
    backwards = world["admin"].get(
        "/os-simple-tenant-usage?start=2026-03-02T00:00:00&end=2026-03-01T00:00:00"
    )
    assert backwards.status_code == 400
    assert world["admin"].get("/os-simple-tenant-usage?start=yesterday").status_code == 400
    # Offsets at the ends of the calendar: a clear 400, not a crash.
    home = world["home"].pk
    for query in (
        "start=0001-01-01T00:00:00%2B05:00&end=2026-03-02T00:00:00",
        "start=2026-03-01T00:00:00&end=9999-12-31T23:59:59-05:00",
    ):
        for path in ("/os-simple-tenant-usage", f"/os-simple-tenant-usage/{home}"):
            response = world["admin"].get(f"{path}?{query}")
            assert (
                response.status_code == 400 and "is out of range" in response.json()["badRequest"]["message"]
            )
