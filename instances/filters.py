"""One filterset for instances: the Instances panel's filters (name, status, image, flavor, project,
kept in the URL), and the compute API's server list, which adds Nova's own parameters."""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

from instances.choices import STATUS_FILTERS
from instances.models import Instance, InstanceTag

STATUS_CHOICES = [
    (status, status.replace("_", " ").title()) for status in STATUS_FILTERS if status != "DELETED"
]


class InstanceFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", label="Name")
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", label="Status", empty_label="Any status"
    )
    image = django_filters.CharFilter(field_name="image_id", label="Image")
    flavor = django_filters.CharFilter(field_name="flavor_ref", label="Flavor")
    project = django_filters.CharFilter(field_name="project_id", label="Project")
    host = django_filters.CharFilter(field_name="host__name", label="Host")

    class Meta:
        model = Instance
        fields: list[str] = []

    def __init__(
        self, *args, image_choices=(), flavor_choices=(), project_choices=None, host_choices=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self._select("image", "Any image", image_choices)
        self._select("flavor", "Any flavor", flavor_choices)
        # Projects and hosts: for an admin's list of every project only (None: no such filter).
        for name, empty, choices in (
            ("project", "Any project", project_choices),
            ("host", "Any host", host_choices),
        ):
            if choices is None:
                del self.filters[name]
            else:
                self._select(name, empty, choices)
        self.filters["name"].field.widget = forms.TextInput(
            attrs={"placeholder": "Name contains", "class": "form-control form-control-sm"}
        )
        self.filters["status"].field.widget.attrs["class"] = "form-select form-select-sm"

    def _select(self, name: str, empty: str, choices) -> None:
        self.filters[name].field.widget = forms.Select(
            choices=[("", empty), *choices], attrs={"class": "form-select form-select-sm"}
        )

    def filter_status(self, queryset, name: str, value: str):
        wanted = STATUS_FILTERS.get(value.upper())
        if wanted is None:  # Nova answers an unknown status with an empty list
            return queryset.none()
        vm_state, task_state = wanted
        queryset = queryset.filter(vm_state=vm_state)
        return queryset.filter(task_state=task_state) if task_state is not None else queryset


def _last_segment(value: str) -> str:
    """Nova takes an image or flavor as an id or as a link that ends with it."""
    return value.rstrip("/").rsplit("/", 1)[-1]


class ServerListFilter(InstanceFilter):
    """``GET /servers`` and ``/servers/detail``: the panel's filters with Nova's meaning (the name a
    regular expression, any status, ids or links), plus reservation_id and ip for everyone, and
    host and project_id/tenant_id for an admin listing all projects."""

    name = django_filters.CharFilter(method="filter_name")
    status = django_filters.CharFilter(method="filter_status")
    image = django_filters.CharFilter(field_name="image_id", method="filter_segment")
    flavor = django_filters.CharFilter(field_name="flavor_ref", method="filter_segment")
    reservation_id = django_filters.CharFilter(field_name="reservation_id")
    ip = django_filters.CharFilter(field_name="address")
    host = django_filters.CharFilter(field_name="host__name")
    project_id = django_filters.CharFilter(field_name="project_id")
    tenant_id = django_filters.CharFilter(field_name="project_id")

    def __init__(self, data, *, queryset, ctx, all_projects: bool):
        super().__init__(data, queryset=queryset, host_choices=())  # host: its own, kept for admins
        if not ctx.is_admin:
            del self.filters["host"]
        if not (ctx.is_admin and all_projects):
            del self.filters["project_id"], self.filters["tenant_id"]

    def filter_queryset(self, queryset):
        return _filter_tags(super().filter_queryset(queryset), self.data)

    def filter_name(self, queryset, name: str, value: str):
        try:
            re.compile(value)
        except re.error:
            # Matched as text, with its case as a regular expression is (``contains`` would ignore
            # case on SQLite and not on PostgreSQL).
            return queryset.filter(name__regex=re.escape(value))
        return queryset.filter(name__regex=value)

    def filter_segment(self, queryset, name: str, value: str):
        return queryset.filter(**{name: _last_segment(value)})


def _has_tags(tags: list[str], *, any_of: bool) -> Q:
    def has(*names: str) -> Exists:
        return Exists(InstanceTag.objects.filter(instance=OuterRef("pk"), tag__in=names))

    if any_of:
        return Q(has(*tags))
    condition = Q()
    for tag in tags:
        condition &= Q(has(tag))
    return condition


def _filter_tags(queryset, params):
    """Nova's tag filters (2.26), each a comma-separated list: ``tags`` (all of them),
    ``tags-any`` (at least one), ``not-tags`` (not all of them), ``not-tags-any`` (none)."""
    for param, any_of, negate in (
        ("tags", False, False),
        ("tags-any", True, False),
        ("not-tags", False, True),
        ("not-tags-any", True, True),
    ):
        value = params.get(param)
        tags = [t for t in (value or "").split(",") if t]
        if not tags:
            continue
        condition = _has_tags(tags, any_of=any_of)
        queryset = queryset.exclude(condition) if negate else queryset.filter(condition)
    return queryset
