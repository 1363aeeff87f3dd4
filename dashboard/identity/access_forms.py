"""The API Access panel's form: a new application credential."""

from __future__ import annotations

from django import forms

from dashboard.forms import BootstrapMixin


class ApplicationCredentialForm(BootstrapMixin, forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, max_length=1024, widget=forms.Textarea(attrs={"rows": 2}))
    expires_at = forms.DateTimeField(
        label="Expires (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="Leave empty for a credential that does not expire.",
    )
    roles = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: all of your roles on this project.",
    )
    unrestricted = forms.BooleanField(
        required=False,
        label="Unrestricted (may create and delete other application credentials)",
    )

    def __init__(self, *args, role_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = [(name, name) for name in role_names]
        self.fields["roles"].widget.attrs["class"] = "form-check-input"
