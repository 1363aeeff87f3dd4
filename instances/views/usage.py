"""Project → Usage (the current project's instances) and Admin → Usage (every project): instance,
vCPU, RAM and disk hours over a chosen period, with a CSV download, from the same usage service as
os-simple-tenant-usage."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import tzinfo
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard.decorators import policy_required
from dashboard.models import Project
from instances import policies
from instances.forms.usage import UsagePeriodForm
from instances.services import usage


class _Echo:
    """csv.writer writes into this and hands each line back, so the CSV streams."""

    def write(self, value: str) -> str:
        return value


def attachment(name: str) -> str:
    """A Content-Disposition for a download named after user text (a project name): a plain
    ASCII ``filename`` of letters, digits, dots, dashes and underscores (anything else becomes a
    dash), and the name itself, without control characters, as RFC 6266's ``filename*``."""
    plain = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._-]", "-", name)).strip("-.") or "usage.csv"
    printable = "".join(ch for ch in name if ch.isprintable())
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(printable, safe='')}"


def _csv(name: str, rows: Iterator[list]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv")
    response["Content-Disposition"] = attachment(name)
    return response


def _stamp(value, zone: tzinfo) -> str:
    """In ``zone``, the user's, taken in the view: the rows are written while the response streams,
    after the time zone middleware has already switched back to UTC."""
    return timezone.localtime(value, zone).strftime("%Y-%m-%d %H:%M:%S %Z") if value else ""


def _hours(value: float) -> str:
    return f"{value:.2f}"


@policy_required(policies.USAGE_SHOW, needs_project=True)
def project_usage(request: HttpRequest) -> HttpResponse:
    form = UsagePeriodForm(request.GET)
    start, stop = form.period()
    report = usage.project_usage(request.ctx.project_id, start, stop)
    servers = sorted(report.servers, key=lambda s: s.started_at, reverse=True)
    if request.GET.get("format") == "csv":
        name = f"usage-{request.ctx.project.name}-{start:%Y%m%d}-{stop:%Y%m%d}.csv"
        zone = timezone.get_current_timezone()
        return _csv(name, _project_rows(request.ctx.project, report, servers, zone))
    return render(
        request,
        "instances/usage/project.html",
        {"form": form, "report": report, "servers": servers, "start": start, "stop": stop},
    )


def _project_rows(project: Project, report: usage.ProjectUsage, servers, zone: tzinfo) -> Iterator[list]:
    yield ["Usage of project", project.name, project.pk]
    yield ["From", _stamp(report.start, zone), "to", _stamp(report.stop, zone)]
    yield [
        "Instance",
        "ID",
        "Flavor",
        "vCPUs",
        "RAM (MB)",
        "Disk (GB)",
        "State",
        "Launched",
        "Terminated",
        "Hours",
        "vCPU hours",
        "RAM GB hours",
        "Disk GB hours",
    ]
    for s in servers:
        yield [
            s.name,
            s.instance_id,
            s.flavor,
            s.vcpus,
            s.memory_mb,
            s.local_gb,
            s.state,
            _stamp(s.started_at, zone),
            _stamp(s.ended_at, zone),
            _hours(s.hours),
            _hours(s.vcpu_hours),
            _hours(s.memory_mb_hours / 1024),
            _hours(s.local_gb_hours),
        ]
    yield [
        "Total",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        _hours(report.total_hours),
        _hours(report.total_vcpus_usage),
        _hours(report.total_memory_mb_usage / 1024),
        _hours(report.total_local_gb_usage),
    ]


@policy_required(policies.USAGE_LIST)
def admin_usage(request: HttpRequest) -> HttpResponse:
    form = UsagePeriodForm(request.GET)
    start, stop = form.period()
    reports = usage.usage_by_project(start, stop)
    names = dict(Project.objects.filter(pk__in=list(reports)).values_list("pk", "name"))
    rows = sorted(
        ({"name": names.get(pid, pid), "report": r} for pid, r in reports.items()),
        key=lambda row: row["name"].lower(),
    )
    if request.GET.get("format") == "csv":
        zone = timezone.get_current_timezone()
        return _csv(f"usage-{start:%Y%m%d}-{stop:%Y%m%d}.csv", _admin_rows(rows, start, stop, zone))
    return render(
        request,
        "instances/usage/admin.html",
        {"form": form, "rows": rows, "start": start, "stop": stop},
    )


def _admin_rows(rows: list[dict], start, stop, zone: tzinfo) -> Iterator[list]:
    yield ["Usage of every project from", _stamp(start, zone), "to", _stamp(stop, zone)]
    yield ["Project", "Project ID", "Instances", "Hours", "vCPU hours", "RAM GB hours", "Disk GB hours"]
    for row in rows:
        r = row["report"]
        yield [
            row["name"],
            r.project_id,
            len(r.servers),
            _hours(r.total_hours),
            _hours(r.total_vcpus_usage),
            _hours(r.total_memory_mb_usage / 1024),
            _hours(r.total_local_gb_usage),
        ]
