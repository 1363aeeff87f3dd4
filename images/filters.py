"""The filters of image lists: ``ImageFilterSet`` for the Images panel, and ``GlanceImageFilterSet``,
the same filterset with Glance's syntax and extra parameters, for ``GET /v2/images``.

A parameter keeps one meaning wherever a filter class is shared (``protected``, and ``status`` and
``disk_format`` with their ``in:a,b`` lists). The panel leaves a bad value out, as if it had not been
sent; the API answers 400 with the parameter's message. The API's filterset only runs when its list
query is compiled: once per query string, and for each page after a marker (images.api.views)."""

from __future__ import annotations

import copy
import uuid

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from dashboard.exceptions import BadRequest
from dashboard.models import Project
from images.choices import DiskFormat, ImageStatus, MemberStatus, Visibility
from images.models import Image

# GET /v2/images' paging and sorting (images.api.listing): neither filters nor image properties.
PAGING_PARAMS = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir"})
DATE_OPS = {"gt": "gt", "gte": "gte", "eq": "exact", "lt": "lt", "lte": "lte"}
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")
KINDS = (("image", "Image"), ("snapshot", "Snapshot"))


# --- fields: a parameter as sent, checked; None when absent -------------------------------------------


class RawField(forms.Field):
    """The value exactly as sent: Glance compares an empty string as a value, too."""

    def to_python(self, value):
        return value


class ValueListField(RawField):
    """A value, or (with ``lists``) Glance's ``in:a,"b"`` list; with ``choices``, only those values."""

    def __init__(self, *, choices=None, lists: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.choices, self.lists = choices, lists

    def to_python(self, value):
        if value is not None and self.choices is not None:
            values = split_list(value) if self.lists and value.startswith("in:") else [value]
            if not values or any(v not in self.choices for v in values):
                raise ValidationError(f"must be one of {', '.join(self.choices)}.")
        return value


class TrimmedField(forms.CharField):
    """Free text of the panel, without surrounding blanks and cut to ``limit`` characters."""

    def __init__(self, *, limit: int, **kwargs):
        super().__init__(**kwargs)
        self.limit = limit

    def to_python(self, value):
        return super().to_python(value)[: self.limit]


class BooleanParamField(RawField):
    def to_python(self, value):
        if value is None:
            return None
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise ValidationError("must be true or false.")


class IntegerParamField(RawField):
    def to_python(self, value):
        try:
            return None if value is None else int(value)
        except ValueError as exc:
            raise ValidationError("must be an integer.") from exc


class DateOperatorField(RawField):
    """``op:datetime`` with op one of gt, gte, eq, neq, lt, lte → (op, datetime)."""

    def to_python(self, value):
        if value is None:
            return None
        op, _, when = value.partition(":")
        try:
            moment = parse_datetime(when) if op in DATE_OPS or op == "neq" else None
        except ValueError:  # well formed but impossible, such as month 13
            moment = None
        if moment is None:
            raise ValidationError("must be like gte:2024-01-01T00:00:00Z.")
        return op, moment


class MemberStatusField(RawField):
    def to_python(self, value):
        value = MemberStatus.ACCEPTED if value is None else value
        if value not in (*MemberStatus.values, "all"):
            raise ValidationError("must be pending, accepted, rejected or all.")
        return value


class TagsField(RawField):
    widget = forms.MultipleHiddenInput  # every value of a repeated parameter


# --- filters ------------------------------------------------------------------------------------------


class TrimmedFilter(django_filters.CharFilter):
    field_class = TrimmedField


class ValueListFilter(django_filters.Filter):
    """``field=value``, or ``field__in=[…]`` for an ``in:`` list."""

    field_class = ValueListField

    def filter(self, qs, value):
        if value is None:
            return qs
        if self.extra.get("lists", True) and value.startswith("in:"):
            return qs.filter(**{f"{self.field_name}__in": split_list(value)})
        return qs.filter(**{self.field_name: value})


class IdFilter(ValueListFilter):
    """Ids that are not UUIDs match nothing (they are left out of an ``in:`` list)."""

    def filter(self, qs, value):
        if value is None:
            return qs
        if value.startswith("in:"):
            return qs.filter(id__in=[v for v in split_list(value) if _is_uuid(v)])
        return qs.filter(id=value) if _is_uuid(value) else qs.none()


class BooleanParamFilter(django_filters.Filter):
    """true/1/yes or false/0/no; ``default`` applies when the parameter is absent."""

    field_class = BooleanParamField

    def __init__(self, *args, default: bool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default = default

    def filter(self, qs, value):
        value = self.default if value is None else value
        return qs if value is None else qs.filter(**{self.field_name: value})


class IntegerParamFilter(django_filters.Filter):
    field_class = IntegerParamField

    def filter(self, qs, value):
        return qs if value is None else qs.filter(**{f"{self.field_name}__{self.lookup_expr}": value})


class DateOperatorFilter(django_filters.Filter):
    field_class = DateOperatorField

    def filter(self, qs, value):
        if value is None:
            return qs
        op, moment = value
        if op == "neq":
            return qs.exclude(**{self.field_name: moment})
        return qs.filter(**{f"{self.field_name}__{DATE_OPS[op]}": moment})


class TagFilter(django_filters.Filter):
    """Images with every tag asked for (one join per tag)."""

    field_class = TagsField

    def filter(self, qs, value):
        for tag in value:
            qs = qs.filter(tag_set__value=tag)
        return qs


class VisibilityTestParam(django_filters.Filter):
    """A parameter of the list's visibility test (``Image.objects.listed_for``), which
    GlanceImageFilterSet applies before every other filter; on its own it filters nothing."""

    field_class = RawField

    def filter(self, qs, value):
        return qs


class MemberStatusParam(VisibilityTestParam):
    field_class = MemberStatusField


# --- the filtersets -----------------------------------------------------------------------------------


class ImageFilterSet(django_filters.FilterSet):
    """The Images panel's filters (the panel's scope tabs choose the queryset it filters)."""

    name = TrimmedFilter(method="filter_name", label="Name or ID", limit=255)
    status = ValueListFilter(label="Status", choices=ImageStatus.values)
    visibility = django_filters.ChoiceFilter(label="Visibility", choices=Visibility.choices)
    disk_format = ValueListFilter(label="Format", choices=DiskFormat.values)
    protected = BooleanParamFilter(label="Protected")
    type = django_filters.ChoiceFilter(label="Type", choices=KINDS, method="filter_type")
    owner = TrimmedFilter(method="filter_owner", label="Project", limit=64)

    class Meta:
        model = Image
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, owner_filter: bool = True, **kwargs):
        super().__init__(data, queryset, **kwargs)
        if not owner_filter:  # only the admin panel, which lists every project's images, has it
            del self.filters["owner"]

    def filter_name(self, queryset, name: str, value: str):
        return queryset.filter(Q(name__icontains=value) | Q(id__istartswith=value))

    def filter_type(self, queryset, name: str, value: str):
        if value == "snapshot":
            return queryset.filter(properties__image_type="snapshot")
        return queryset.exclude(properties__image_type="snapshot")

    def filter_owner(self, queryset, name: str, value: str):
        """A project id, or a project's name."""
        return queryset.filter(Q(owner=value) | Q(owner__in=Project.objects.filter(name=value).values("id")))


class GlanceListForm(forms.Form):
    # The order the filters apply in, and in which a bad parameter is reported first.
    field_order = [
        "member_status", "visibility", "name", "status", "owner", "disk_format", "container_format", "id",
        "tag", "size_min", "size_max", "protected", "os_hidden", "created_at", "updated_at",
    ]  # fmt: skip


class GlanceImageFilterSet(ImageFilterSet):
    """``GET /v2/images``' filters: the panel's, in Glance's syntax, and Glance's own. Any other
    parameter (but paging) is an additional property compared as a string, as in Glance. Values are
    taken as sent (an unknown status matches nothing); a malformed one is a 400 (BadRequest)."""

    # Glance compares these as sent; all but owner also take an `in:a,b` list.
    name = ValueListFilter()
    status = ValueListFilter()
    disk_format = ValueListFilter()
    owner = ValueListFilter(lists=False)
    # The panel's own parameters are image properties here.
    type = None

    visibility = VisibilityTestParam()
    member_status = MemberStatusParam()
    container_format = ValueListFilter()
    id = IdFilter()
    tag = TagFilter()
    size_min = IntegerParamFilter(field_name="size", lookup_expr="gte")
    size_max = IntegerParamFilter(field_name="size", lookup_expr="lte")
    # Hidden images are left out of lists unless asked for (Glance's os_hidden).
    os_hidden = BooleanParamFilter(default=False)
    created_at = DateOperatorFilter()
    updated_at = DateOperatorFilter()

    class Meta:
        model = Image
        fields: list[str] = []
        form = GlanceListForm

    def __init__(self, data, *, project_id: str | None, is_admin: bool, queryset=None):
        super().__init__(data, queryset)
        self.project_id, self.is_admin = project_id, is_admin

    @classmethod
    def list_form(cls) -> type[forms.Form]:
        """The form of every request, built once: the filters never change from one to the next."""
        if "_list_form" not in cls.__dict__:
            filters = copy.deepcopy(cls.base_filters)
            fields = {name: f.field for name, f in filters.items()}
            cls._list_form = type(f"{cls.__name__}Form", (cls._meta.form,), fields)
        return cls.__dict__["_list_form"]

    def get_form_class(self):
        return self.list_form()

    @classmethod
    def clean_param(cls, data, name: str):
        """One parameter checked on its own, as the filterset checks it, without building one."""
        field = cls.list_form().base_fields[name]
        try:
            return field.clean(field.widget.value_from_datadict(data, {}, name))
        except ValidationError as exc:
            raise BadRequest(f"{name} {exc.messages[0]}") from None

    def filter_queryset(self, queryset):
        if self.errors:
            name, messages = next(iter(self.errors.items()))
            raise BadRequest(f"{name} {messages[0]}")
        values = self.form.cleaned_data
        queryset = queryset.listed_for(
            self.project_id, self.is_admin, values["visibility"] or None, values["member_status"]
        )
        for name, sent in self.data.lists():
            if name not in self.filters and name not in PAGING_PARAMS:
                queryset = queryset.filter(**{f"properties__{name}": sent[-1]})
        return super().filter_queryset(queryset)


def split_list(value: str) -> list[str]:
    """The values of ``in:a,"b", c``."""
    return [v.strip().strip('"') for v in value[3:].split(",") if v.strip()]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
