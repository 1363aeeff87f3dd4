"""Forms of the Images panel. They check what a person typed; the Image API (or the service
functions it uses) still decides what is allowed, so a form can never grant more than the API."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import Resolver404, resolve

from dashboard.exceptions import StratusError
from dashboard.forms import BootstrapMixin
from dashboard.models import Project
from dashboard.policy import can
from images.api import fields as api_fields
from images.choices import DiskFormat, ImageStatus, Visibility
from images.models import Image
from images.pipeline.fetch import FetchError, check_url

ARCHITECTURES = ("x86_64", "aarch64", "i686", "ppc64le", "s390x", "riscv64")
# Formats whose container has the same name (Horizon's rule); everything else is a bare disk.
SAME_NAME_CONTAINERS = {"ami", "ari", "aki"}
NOT_PROPERTIES = api_fields.READ_ONLY | api_fields.WRITABLE | {"id", "tags", "description", "architecture"}


def container_for(disk_format: str) -> str:
    return disk_format if disk_format in SAME_NAME_CONTAINERS else "bare"


def locations_api_available() -> bool:
    """Whether the Image API on this server has POST /v2/images/{id}/locations (Glance 2.17)."""
    try:
        resolve("/image/v2/images/00000000-0000-0000-0000-000000000000/locations")
    except Resolver404:
        return False
    return True


def visibility_choices(ctx, owner: str | None) -> list[tuple[str, str]]:
    target = {"project_id": owner, "owner": owner}
    choices = [(Visibility.PRIVATE, "Private"), (Visibility.SHARED, "Shared with chosen projects")]
    if can(ctx, "communitize_image", target):
        choices.append((Visibility.COMMUNITY, "Community"))
    if can(ctx, "publicize_image", target):
        choices.append((Visibility.PUBLIC, "Public"))
    return choices


class FileNameInput(forms.FileInput):
    """A file picker whose form value is the chosen file's name: the bytes never travel with the
    form, the browser sends them to the Image API afterwards."""

    def value_from_datadict(self, data, files, name):
        return data.get(name)


class PropertiesField(forms.CharField):
    """``key=value`` per line."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "os_distro=ubuntu\nos_version=24.04"})

    def to_python(self, value) -> dict[str, str]:
        text = super().to_python(value) or ""
        props: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, val = line.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValidationError(f"Line {number}: write each property as key=value.")
            if key in NOT_PROPERTIES or key.startswith(api_fields.RESERVED_PREFIX):
                raise ValidationError(f"Line {number}: {key!r} is not a free property; use its own field.")
            props[key] = val.strip()
        return props


def check_properties(ctx, props: dict[str, str], op: str = "create") -> list[str]:
    """Property protections for ``props``; returns the messages of those refused."""
    errors = []
    for key, value in props.items():
        try:
            api_fields.protect(ctx, key, op)
            api_fields.clean_property(key, value)
        except StratusError as exc:
            errors.append(exc.message)
    if len(props) > settings.IMAGE_PROPERTY_QUOTA:
        errors.append(f"An image may have at most {settings.IMAGE_PROPERTY_QUOTA} properties.")
    return errors


class ImageFieldsMixin(forms.Form):
    name = forms.CharField(max_length=255, label="Image Name")
    description = forms.CharField(max_length=255, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    disk_format = forms.ChoiceField(
        label="Format", choices=[("", "Select format")] + list(DiskFormat.choices)
    )
    architecture = forms.CharField(
        max_length=255,
        required=False,
        help_text="For example x86_64 for 64-bit or i686 for 32-bit images.",
        widget=forms.TextInput(attrs={"list": "architectures"}),
    )
    min_disk = forms.IntegerField(label="Minimum Disk (GB)", min_value=0, max_value=2**31 - 1, initial=0)
    min_ram = forms.IntegerField(label="Minimum RAM (MB)", min_value=0, max_value=2**31 - 1, initial=0)
    visibility = forms.ChoiceField(initial=Visibility.PRIVATE)
    protected = forms.BooleanField(
        required=False, help_text="A protected image cannot be deleted until this is turned off."
    )

    def __init__(self, *args, ctx, owner: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.ctx = ctx
        self.fields["visibility"].choices = visibility_choices(ctx, owner)


class CreateImageForm(BootstrapMixin, ImageFieldsMixin):
    field_order = [
        "name", "description", "source", "image_file", "location", "copy_data", "disk_format",
        "kernel", "ramdisk", "architecture", "min_disk", "min_ram", "visibility", "protected", "properties",
    ]  # fmt: skip
    source = forms.ChoiceField(
        label="Image Source",
        choices=[("file", "Image File"), ("url", "Image Location")],
        initial="file",
        widget=forms.RadioSelect,
    )
    image_file = forms.CharField(
        label="File", required=False, widget=FileNameInput(attrs={"data-image-file": ""})
    )
    image_size = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    location = forms.URLField(
        label="Location",
        required=False,
        max_length=2048,
        assume_scheme="https",
        help_text="An http or https URL the server can reach, e.g. a distribution's cloud image.",
        widget=forms.URLInput(attrs={"placeholder": "https://cloud-images.example.org/image.qcow2"}),
    )
    copy_data = forms.BooleanField(
        required=False,
        initial=True,
        label="Copy Data",
        help_text="Copy the image into this cloud's store (checked, converted and hashed here).",
    )
    # Horizon's classic form: an ami boots with a kernel (aki) and ramdisk (ari) image.
    kernel = forms.ChoiceField(label="Kernel", required=False, help_text="For an AMI: the kernel it boots.")
    ramdisk = forms.ChoiceField(label="Ramdisk", required=False, help_text="For an AMI: its initrd.")
    properties = PropertiesField(required=False, help_text="One key=value per line.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].widget.attrs["class"] = "form-check-input"
        for field, disk_format in (("kernel", DiskFormat.AKI), ("ramdisk", DiskFormat.ARI)):
            images = Image.objects.visible_to(self.ctx).filter(
                status=ImageStatus.ACTIVE, disk_format=disk_format
            )
            self.fields[field].choices = [("", "Choose an image")] + [
                (str(pk), name or str(pk))
                for pk, name in images.order_by("name", "id").values_list("id", "name")
            ]
        self.can_register_location = locations_api_available()
        if not self.can_register_location:
            # Without a locations API the only way to use a URL is to copy its data here.
            self.fields["copy_data"].disabled = True
            self.fields[
                "copy_data"
            ].help_text += " Registering a location without copying is not available here."

    def clean(self):
        data = super().clean()
        source = data.get("source")
        if source == "file" and not data.get("image_file"):
            self.add_error("image_file", "An image file or an external location must be specified.")
        if source == "url":
            location = data.get("location")
            if not location and "location" not in self.errors:
                self.add_error("location", "An image file or an external location must be specified.")
            elif location and not location.lower().startswith(("http://", "https://")):
                self.add_error("location", "The location must be an http or https URL.")
            elif location:
                # Copied or only registered, the server fetches from this URL either way.
                try:
                    check_url(location)
                except FetchError as exc:
                    self.add_error("location", f"This server will not fetch from that URL: {exc}")
            if not data.get("copy_data") and not self.can_register_location:
                self.add_error("copy_data", "This server can only copy data from a URL.")
        for message in check_properties(self.ctx, data.get("properties") or {}):
            self.add_error("properties", message)
        if data.get("disk_format") != DiskFormat.AMI:
            data["kernel"] = data["ramdisk"] = ""  # only an ami boots with them
        elif data.get("ramdisk") and not data.get("kernel"):
            self.add_error("kernel", "A ramdisk is only used with a kernel: choose one.")
        return data

    def api_body(self) -> dict:
        """The POST /v2/images body for this form (what the browser sends to the Image API)."""
        data = self.cleaned_data
        body = {
            "name": data["name"],
            "disk_format": data["disk_format"],
            "container_format": container_for(data["disk_format"]),
            "visibility": data["visibility"],
            "protected": data["protected"],
            "min_disk": data["min_disk"] or 0,
            "min_ram": data["min_ram"] or 0,
            **(data.get("properties") or {}),
        }
        for key in ("description", "architecture"):
            if data.get(key):
                body[key] = data[key]
        for field, key in (("kernel", "kernel_id"), ("ramdisk", "ramdisk_id")):
            if data.get(field):
                body[key] = data[field]
        return body


class EditImageForm(BootstrapMixin, ImageFieldsMixin):
    def __init__(self, *args, image, **kwargs):
        initial = {
            "name": image.name,
            "description": image.properties.get("description", ""),
            "architecture": image.properties.get("architecture", ""),
            "disk_format": image.disk_format,
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "visibility": image.visibility,
            "protected": image.protected,
        }
        super().__init__(*args, initial=initial, owner=image.owner, **kwargs)
        self.image = image
        if image.status != "queued":
            self.fields["disk_format"].disabled = True
            self.fields["disk_format"].help_text = "The format can only change before data is uploaded."
        if image.visibility not in dict(self.fields["visibility"].choices):
            self.fields["visibility"].choices.append((image.visibility, Visibility(image.visibility).label))

    def patch_operations(self) -> list[tuple[str, str, object]]:
        """The JSON-patch operations (op, name, value) that turn the image into the form's values."""
        data, image = self.cleaned_data, self.image
        ops: list[tuple[str, str, object]] = []
        for name in ("name", "disk_format", "min_disk", "min_ram", "visibility", "protected"):
            if name in data and data[name] != getattr(image, name):
                ops.append(("replace", name, data[name]))
        if any(name == "disk_format" for _, name, _ in ops) and image.container_format != container_for(
            data["disk_format"]
        ):
            ops.append(("replace", "container_format", container_for(data["disk_format"])))
        for key in ("description", "architecture"):
            value, present = data.get(key, ""), key in image.properties
            if value and value != image.properties.get(key):
                ops.append(("add", key, value))
            elif not value and present:
                ops.append(("remove", key, None))
        return ops


class MetadataForm(forms.Form):
    """Free properties as key/value rows (``key`` and ``value`` lists in the POST)."""

    def __init__(self, data=None, *, ctx, image, readable: dict[str, str]):
        super().__init__(data)
        self.ctx, self.image, self.readable = ctx, image, readable
        self.rows: list[tuple[str, str]] = list(readable.items())
        self.wanted: dict[str, str] = {}

    def clean(self):
        keys, values = self.data.getlist("key"), self.data.getlist("value")
        self.rows = list(zip(keys, values, strict=False))
        wanted: dict[str, str] = {}
        for key, value in self.rows:
            key = key.strip()
            if not key:
                continue
            if key in NOT_PROPERTIES - {"description", "architecture"} or key.startswith(
                api_fields.RESERVED_PREFIX
            ):
                raise ValidationError(f"{key!r} is not a free property.")
            if key in wanted:
                raise ValidationError(f"The property {key!r} is listed twice.")
            wanted[key] = value.strip()
        self.wanted = wanted
        return {}

    def patch_operations(self) -> list[tuple[str, str, object]]:
        ops: list[tuple[str, str, object]] = [
            ("remove", key, None) for key in self.readable if key not in self.wanted
        ]
        ops += [("add", k, v) for k, v in self.wanted.items() if self.readable.get(k) != v]
        return ops


class MemberForm(BootstrapMixin, forms.Form):
    project = forms.CharField(label="Project", help_text="A project's name or id.", max_length=64)

    def __init__(self, *args, image, **kwargs):
        super().__init__(*args, **kwargs)
        self.image = image
        self.project: Project | None = None

    def clean_project(self) -> str:
        value = self.cleaned_data["project"].strip()
        project = Project.objects.filter(id=value).first() or Project.objects.filter(name=value).first()
        if project is None:
            raise ValidationError(f"No project is named {value!r}.")
        if project.id == self.image.owner:
            raise ValidationError("The owner's project has the image already.")
        self.project = project
        return project.id
