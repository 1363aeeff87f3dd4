"""The forms of the Volumes panel's actions."""

from __future__ import annotations

from django import forms


class CreateForm(forms.Form):
    name = forms.CharField(max_length=255, required=False, label="Volume Name")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    source = forms.ChoiceField(
        choices=[("", "No source, empty volume")], required=False, label="Volume Source"
    )
    size = forms.IntegerField(min_value=1, initial=1, label="Size (GiB)")

    def __init__(self, *args, images=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "No source, empty volume")] + [
            (str(i.pk), f"Image: {i.name or i.pk}") for i in images
        ]


class EditForm(forms.Form):
    name = forms.CharField(max_length=255, required=False, label="Volume Name")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    bootable = forms.BooleanField(required=False)


class ExtendForm(forms.Form):
    new_size = forms.IntegerField(min_value=1, label="New Size (GiB)")


class AttachForm(forms.Form):
    instance = forms.ChoiceField(label="Attach to Instance")


class UploadForm(forms.Form):
    image_name = forms.CharField(max_length=255, label="Image Name")
    disk_format = forms.ChoiceField(choices=[("qcow2", "QCOW2"), ("raw", "Raw")], label="Disk Format")
