"""The form of the Server Groups panel: a name, a policy and, for anti-affinity, how many members
one host may hold."""

from __future__ import annotations

from django import forms

from dashboard.forms import BootstrapMixin
from instances.choices import ServerGroupPolicy


class ServerGroupForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label="Name", max_length=255)
    policy = forms.ChoiceField(
        label="Policy",
        choices=ServerGroupPolicy.choices,
        initial=ServerGroupPolicy.ANTI_AFFINITY,
        help_text="Affinity keeps the members on one host, anti-affinity on different hosts; the soft "
        "variants only prefer that and never refuse a launch.",
    )
    max_server_per_host = forms.IntegerField(
        label="Members per host",
        required=False,
        min_value=1,
        help_text="Anti-affinity only: how many members one host may hold (1 when empty).",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the server group a name.")
        return name

    def clean(self) -> dict:
        data = super().clean()
        if data.get("max_server_per_host") and data.get("policy") != ServerGroupPolicy.ANTI_AFFINITY:
            self.add_error("max_server_per_host", "Only anti-affinity groups have a members-per-host rule.")
        return data

    @property
    def rules(self) -> dict:
        value = self.cleaned_data.get("max_server_per_host")
        return {"max_server_per_host": value} if value else {}
