"""The filters of the Instances panel: name, status, image and flavor, kept in the URL."""

from __future__ import annotations

import django_filters
from django import forms

from instances.choices import STATUS_FILTERS
from instances.models import Instance

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

    class Meta:
        model = Instance
        fields: list[str] = []

    def __init__(self, *args, image_choices=(), flavor_choices=(), project_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._select("image", "Any image", image_choices)
        self._select("flavor", "Any flavor", flavor_choices)
        if project_choices is None:
            del self.filters["project"]
        else:
            self._select("project", "Any project", project_choices)
        self.filters["name"].field.widget = forms.TextInput(
            attrs={"placeholder": "Name contains", "class": "form-control form-control-sm"}
        )
        self.filters["status"].field.widget.attrs["class"] = "form-select form-select-sm"

    def _select(self, name: str, empty: str, choices) -> None:
        self.filters[name].field.widget = forms.Select(
            choices=[("", empty), *choices], attrs={"class": "form-select form-select-sm"}
        )

    def filter_status(self, queryset, name: str, value: str):
        vm_state, task_state = STATUS_FILTERS[value]
        queryset = queryset.filter(vm_state=vm_state)
        return queryset.filter(task_state=task_state) if task_state is not None else queryset
