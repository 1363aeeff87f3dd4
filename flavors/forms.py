"""Forms of the Flavors panels, with Horizon's validation of the Create Flavor workflow."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from dashboard.api.schemas import MAX_INT
from dashboard.exceptions import BadRequest
from dashboard.forms import BootstrapMixin
from dashboard.models import Project
from flavors import extra_specs
from flavors.models import FLAVOR_ID_RE, MAX_RXTX, Flavor


class FlavorInfoForm(BootstrapMixin, forms.Form):
    """Step 1, "Flavor Information"."""

    prefix = "info"

    name = forms.CharField(max_length=255, help_text="Unique among flavors, ignoring case.")
    flavor_id = forms.CharField(
        label="ID",
        max_length=255,
        initial="auto",
        validators=[
            RegexValidator(
                FLAVOR_ID_RE,
                "ID may contain only letters, digits, spaces, periods, dashes and underscores, "
                "and may not begin or end with a space.",
            )
        ],
        strip=False,
        help_text='Flavor ID; leave "auto" to generate a UUID.',
    )
    vcpus = forms.IntegerField(label="vCPUs", min_value=1, max_value=MAX_INT)
    ram = forms.IntegerField(label="RAM (MB)", min_value=1, max_value=MAX_INT)
    disk = forms.IntegerField(
        label="Root Disk (GB)",
        min_value=0,
        max_value=MAX_INT,
        help_text="0 means the root disk is as large as the image: use it only for volume-backed "
        "instances or for testing.",
    )
    ephemeral = forms.IntegerField(label="Ephemeral Disk (GB)", min_value=0, max_value=MAX_INT, initial=0)
    swap = forms.IntegerField(label="Swap Disk (MB)", min_value=0, max_value=MAX_INT, initial=0)
    rxtx_factor = forms.FloatField(label="RX/TX Factor", min_value=0, max_value=MAX_RXTX, initial=1.0)
    description = forms.CharField(required=False, max_length=65535, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Flavor.objects.filter(name__iexact=name).exists():
            raise ValidationError(f'The name "{name}" is already used by another flavor.')
        return name

    def clean_flavor_id(self) -> str | None:
        value = self.cleaned_data["flavor_id"]
        if value == "auto":
            return None
        if Flavor.objects.filter(pk=value).exists():
            raise ValidationError(f'The ID "{value}" is already used by another flavor.')
        return value

    def clean_rxtx_factor(self) -> float:
        value = self.cleaned_data["rxtx_factor"]
        if value <= 0:
            raise ValidationError("Ensure this value is greater than 0.")
        return value


class FlavorAccessForm(forms.Form):
    """Step 2, "Flavor Access" (and the Modify Access form)."""

    prefix = "access"

    projects = forms.ModelMultipleChoiceField(
        Project.objects.filter(enabled=True).order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="If no projects are selected, then the flavor will be available in all projects.",
    )


class ExtraSpecsForm(forms.Form):
    """Update Metadata: rows of key and value posted as parallel lists."""

    def __init__(self, data=None, *, initial_specs: dict[str, str] | None = None):
        super().__init__(data)
        self.rows: list[tuple[str, str]] = []
        if data is not None:
            keys, values = data.getlist("key"), data.getlist("value")
            self.rows = [(k.strip(), v.strip()) for k, v in zip(keys, values, strict=False) if k.strip()]
        elif initial_specs:
            self.rows = sorted(initial_specs.items())

    def clean(self):
        seen: set[str] = set()
        for key, _ in self.rows:
            if key in seen:
                raise ValidationError(f"The key {key} is given twice.")
            seen.add(key)
        try:
            self.cleaned_data["specs"] = extra_specs.normalise(dict(self.rows), check_known=True)
        except BadRequest as exc:
            raise ValidationError(exc.message) from exc
        return self.cleaned_data
