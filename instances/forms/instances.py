"""Forms of the instance pages."""

from __future__ import annotations

import base64

from django import forms
from django.utils.text import normalize_newlines

from dashboard.exceptions import BadRequest, StratusError
from dashboard.forms import BootstrapMixin
from instances.services import server_edit
from instances.services import servers as server_service
from instances.services import volumes as volume_service

YES_NO = [("no", "No"), ("yes", "Yes")]
ONE_PER_VOLUME = "Only one instance can boot from a volume per request: set Count to 1."


class SnapshotForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label="Snapshot Name", max_length=255)

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


class ConsoleForm(forms.Form):
    lines = forms.IntegerField(min_value=1, max_value=10000, required=False, initial=50)


class LaunchForm(BootstrapMixin, forms.Form):
    """Details, source, flavor and volume options of a launch; the choices come from what the
    project may use. The size check is the volume service's own (``volumes.check_size``)."""

    name = forms.CharField(label="Instance Name", max_length=255)
    description = forms.CharField(label="Description", max_length=255, required=False)
    availability_zone = forms.ChoiceField(label="Availability Zone", required=False)
    count = forms.IntegerField(label="Count", min_value=1, max_value=100, initial=1)
    source_type = forms.ChoiceField(
        label="Boot Source",
        choices=[("image", "Image"), ("snapshot", "Instance Snapshot"), ("volume", "Volume")],
        initial="image",
        widget=forms.RadioSelect,
    )
    image = forms.ChoiceField(label="Source", required=False)
    volume = forms.ChoiceField(label="Volume", required=False)
    flavor = forms.ChoiceField(label="Flavor")
    create_volume = forms.ChoiceField(
        label="Create New Volume", choices=YES_NO, initial="no", required=False, widget=forms.RadioSelect
    )
    volume_size = forms.IntegerField(label="Volume Size (GB)", min_value=1, required=False)
    delete_on_termination = forms.ChoiceField(
        label="Delete Volume on Instance Delete",
        choices=YES_NO,
        initial="no",
        required=False,
        widget=forms.RadioSelect,
    )
    key_name = forms.ChoiceField(label="Key Pair", required=False)
    user_data = forms.CharField(
        label="Customization Script",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="User data for cloud-init, e.g. a #cloud-config document or a shell script.",
    )
    user_data_file = forms.FileField(label="Or load it from a file", required=False)
    config_drive = forms.BooleanField(label="Configuration Drive", required=False)
    server_group = forms.ChoiceField(label="Server Group", required=False)

    def __init__(
        self, *args, zones=(), images=(), volumes=(), flavors=(), keypairs=(), server_groups=(), **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.images = {str(i.pk): i for i in images}
        self.fields["availability_zone"].choices = [("", "Any Availability Zone"), *((z, z) for z in zones)]
        self.fields["image"].choices = [(str(i.pk), i.name or str(i.pk)) for i in images]
        self.fields["volume"].choices = [(str(v.pk), v.name or str(v.pk)) for v in volumes]
        self.fields["flavor"].choices = [(f.pk, f.name) for f in flavors]
        self.fields["flavor"].error_messages["required"] = "Choose a flavor."
        self.fields["key_name"].choices = [("", "No key pair"), *((k.name, k.name) for k in keypairs)]
        self.fields["server_group"].choices = [
            ("", "No server group"),
            *((str(g.pk), f"{g.name} ({g.get_policy_display()})") for g in server_groups),
        ]

    def clean_user_data(self) -> str:
        """The script as the compute service takes it: base64 of the text typed or the file
        loaded (not both), checked by the service (its size limit counts the encoded form). Browsers
        send a textarea's lines ended by CRLF; typed text gets the LF a guest expects (a ``#!/bin/sh``
        line ending in CR names no interpreter), while a file's bytes go as they are."""
        text = self.cleaned_data["user_data"]
        upload = self.files.get(self.add_prefix("user_data_file"))
        if upload is not None and text.strip():
            raise forms.ValidationError("Type a script or load a file, not both.")
        raw = upload.read() if upload is not None else normalize_newlines(text).encode()
        if not raw.strip():
            return ""
        encoded = base64.b64encode(raw).decode()
        try:
            return server_service.check_user_data(encoded)
        except BadRequest as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self) -> dict:
        data = super().clean()
        on_volume = data.get("source_type") == "volume"
        # A choice the chosen boot source does not use is left over from switching; ignore it.
        unused = ("image", "volume_size") if on_volume else ("volume",)
        if data.get("create_volume") != "yes":
            unused += ("volume_size",)
        for name in unused:
            self._errors.pop(name, None)
        if on_volume:
            data["create_volume"] = "no"
            if not data.get("volume"):
                self.add_error("volume", "Choose a volume to boot from.")
        elif not data.get("image"):
            self.add_error("image", "Choose an image or snapshot to boot from.")
        elif data.get("create_volume") == "yes":
            on_volume = True
            size = data.get("volume_size")
            if size is None:
                if "volume_size" not in self.errors:
                    self.add_error("volume_size", "Volume Size (GB) is required when creating a new volume.")
            else:
                try:
                    volume_service.check_size(size, self.images[data["image"]])
                except BadRequest as exc:
                    self.add_error("volume_size", exc.message.removeprefix("Invalid input received: "))
        if on_volume and (data.get("count") or 1) > 1:
            self.add_error("count", ONE_PER_VOLUME)
        return data

    @property
    def on_volume(self) -> bool:
        data = self.cleaned_data
        return data.get("source_type") == "volume" or data.get("create_volume") == "yes"

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the instance a name.")
        return name


class PortForwardForm(forms.Form):
    guest_port = forms.IntegerField(min_value=1, max_value=65535, initial=22, label="Instance port")


class EditInstanceForm(BootstrapMixin, forms.Form):
    """Horizon's Edit Instance: the name and description (Nova's server update)."""

    name = forms.CharField(label="Name", max_length=255)
    description = forms.CharField(label="Description", max_length=255, required=False)

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


class LockForm(BootstrapMixin, forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=255,
        required=False,
        help_text="Shown to everyone who sees the instance; members can no longer act on it.",
    )


class MetadataForm(BootstrapMixin, forms.Form):
    """Update Metadata: one ``key=value`` per line; the whole set replaces the instance's."""

    metadata = forms.CharField(
        label="Metadata",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "data-metadata-text": ""}),
        help_text="One key=value per line; the catalog's + adds a line for a known key. Keys: letters, "
        "digits and - _ : . and space, at most 255 "
        "characters; values at most 255 characters. Removing a line removes the item.",
    )

    @staticmethod
    def as_text(metadata: dict) -> str:
        return "\n".join(f"{k}={v}" for k, v in sorted(metadata.items()))

    def clean_metadata(self) -> dict:
        items: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["metadata"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise forms.ValidationError(f"Line {number} has no '=': write key=value.")
            items[key.strip()] = value.strip()
        try:
            server_edit.check_metadata(items)
            server_edit.check_metadata_quota(items)
        except StratusError as exc:
            raise forms.ValidationError(exc.message) from exc
        return items
