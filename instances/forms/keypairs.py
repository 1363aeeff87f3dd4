"""The forms of the Key Pairs panel: a name for a generated pair, or a name and a public key."""

from __future__ import annotations

from django import forms

from dashboard.forms import BootstrapMixin
from instances.services import keypairs


class KeyPairNameForm(BootstrapMixin, forms.Form):
    name = forms.CharField(
        label="Key Pair Name",
        max_length=255,
        help_text="Letters, digits, spaces and _ - @ . only.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the key pair a name.")
        if not set(name) <= keypairs.NAME_CHARS:
            raise forms.ValidationError(
                "Key pair names may contain letters, digits, spaces and _ - @ . only."
            )
        return name


class ImportKeyPairForm(KeyPairNameForm):
    public_key = forms.CharField(
        label="Public Key",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="One line such as 'ssh-ed25519 AAAA… comment', e.g. the content of ~/.ssh/id_ed25519.pub.",
    )
