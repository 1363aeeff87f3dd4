"""Forms of the instance pages."""

from __future__ import annotations

from django import forms

from dashboard.forms import BootstrapMixin


class SnapshotForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label="Snapshot Name", max_length=255)

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


class ConsoleForm(forms.Form):
    lines = forms.IntegerField(min_value=1, max_value=10000, required=False, initial=50)


class LaunchForm(BootstrapMixin, forms.Form):
    """Details, source and flavor of a launch; the choices come from what the project may use."""

    name = forms.CharField(label="Instance Name", max_length=255)
    description = forms.CharField(label="Description", max_length=255, required=False)
    availability_zone = forms.ChoiceField(label="Availability Zone", required=False)
    count = forms.IntegerField(label="Count", min_value=1, max_value=100, initial=1)
    source_type = forms.ChoiceField(
        label="Boot Source",
        choices=[("image", "Image"), ("snapshot", "Instance Snapshot")],
        initial="image",
        widget=forms.RadioSelect,
    )
    image = forms.ChoiceField(label="Source")
    flavor = forms.ChoiceField(label="Flavor")

    def __init__(self, *args, zones=(), images=(), flavors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["availability_zone"].choices = [("", "Any Availability Zone"), *((z, z) for z in zones)]
        self.fields["image"].choices = [(str(i.pk), i.name or str(i.pk)) for i in images]
        self.fields["flavor"].choices = [(f.pk, f.name) for f in flavors]
        self.fields["image"].error_messages["required"] = "Choose an image or snapshot to boot from."
        self.fields["flavor"].error_messages["required"] = "Choose a flavor."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the instance a name.")
        return name
