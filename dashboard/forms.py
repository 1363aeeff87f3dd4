from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from dashboard import preferences, quotas
from dashboard.identity.service import is_reserved_project_name, is_reserved_user_name
from dashboard.models import Project, Role, RoleAssignment, User


class BootstrapMixin:
    """Gives every widget the Bootstrap class it needs and marks fields with errors."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class ProjectForm(BootstrapMixin, forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description", "enabled"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if is_reserved_project_name(name):
            raise ValidationError("This name is reserved for the cloud's own services.")
        clash = Project.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError("A project with this name already exists.")
        return name


class UserCreateForm(BootstrapMixin, forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False)
    confirm_password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False)
    project = forms.ModelChoiceField(
        Project.objects.filter(enabled=True),
        required=False,
        help_text="Primary project; the user gets the role below on it.",
    )
    role = forms.ModelChoiceField(Role.objects.all(), required=False, to_field_name="name", initial="member")

    class Meta:
        model = User
        fields = ["username", "email", "is_active"]
        labels = {"is_active": "Enabled"}

    def clean_username(self) -> str:
        name = self.cleaned_data["username"]
        if is_reserved_user_name(name):
            raise ValidationError("This name is reserved for the cloud's own services.")
        return name

    def clean(self):
        data = super().clean()
        if data.get("password") != data.get("confirm_password"):
            self.add_error("confirm_password", "The passwords do not match.")
        elif data.get("password"):
            try:
                password_validation.validate_password(data["password"], self.instance)
            except ValidationError as exc:
                self.add_error("password", exc)
        if data.get("project") and not data.get("role"):
            self.add_error("role", "Choose the role the user gets on the project.")
        return data

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.set_password(self.cleaned_data["password"])
        user.default_project = self.cleaned_data.get("project")
        user.save()
        if user.default_project:
            RoleAssignment.objects.get_or_create(
                user=user, project=user.default_project, role=self.cleaned_data["role"]
            )
        return user


class UserUpdateForm(BootstrapMixin, forms.ModelForm):
    new_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        required=False,
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = User
        fields = ["username", "email", "is_active", "default_project"]
        labels = {"is_active": "Enabled"}

    def clean_username(self) -> str:
        name = self.cleaned_data["username"]
        if is_reserved_user_name(name):
            raise ValidationError("This name is reserved for the cloud's own services.")
        return name

    def clean_new_password(self) -> str:
        password = self.cleaned_data.get("new_password")
        if password:
            password_validation.validate_password(password, self.instance)
        return password

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            user.set_password(self.cleaned_data["new_password"])
            # A new password ends every API token issued with the old one.
            user.tokens.all().delete()
        user.save()
        return user


class AssignmentForm(BootstrapMixin, forms.Form):
    user = forms.ModelChoiceField(User.objects.filter(is_active=True))
    role = forms.ModelChoiceField(Role.objects.all(), to_field_name="name")

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean(self):
        data = super().clean()
        if (
            data.get("user")
            and data.get("role")
            and RoleAssignment.objects.filter(
                user=data["user"], project=self.project, role=data["role"]
            ).exists()
        ):
            raise ValidationError("This user already has this role on the project.")
        return data


class QuotaForm(forms.Form):
    """One limit per registered quota resource, shown in the resource's unit (image storage in
    GiB); -1 is unlimited. ``usage`` (a project's) adds what is in use beside each limit."""

    def __init__(self, *args, limits: dict[str, int], usage: dict[str, int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.usage = usage or {}
        self.resources = [r for r in quotas.resources() if r.shown]
        for resource in self.resources:
            limit = limits[resource.name]
            attrs = {"class": "form-control"}
            if resource.name in self.usage:
                attrs["aria-describedby"] = f"usage-{resource.name}"
            self.fields[resource.name] = forms.IntegerField(
                label=resource.label,
                min_value=quotas.UNLIMITED,
                max_value=quotas.maximum(resource),
                initial=limit if limit < 0 else limit // resource.scale,
                widget=forms.NumberInput(attrs=attrs),
            )

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] = "form-control is-invalid"

    def rows(self) -> list[dict]:
        """Per group, each resource with its field and its usage (None where it is not counted)."""
        groups: dict[str, list] = {}
        for resource in self.resources:
            used = self.usage.get(resource.name)
            groups.setdefault(resource.group, []).append(
                {
                    "resource": resource,
                    "field": self[resource.name],
                    "used": None if used is None else shown(used, resource.scale),
                    "limit": self.initial_limit(resource),
                    "percent": self._percent(resource, used),
                }
            )
        return list(groups.items())

    def initial_limit(self, resource) -> int:
        return self.fields[resource.name].initial

    def _percent(self, resource, used) -> int | None:
        limit = self.initial_limit(resource)
        if used is None or limit is None or limit < 0:
            return None
        if limit == 0:
            return 100 if used else 0
        return min(100, round(100 * used / (limit * resource.scale)))

    def changed_limits(self) -> dict[str, int]:
        """Only what the user changed, in the resources' own units (bytes for image storage)."""
        out = {}
        for resource in self.resources:
            if resource.name in self.changed_data:
                value = self.cleaned_data[resource.name]
                out[resource.name] = value if value < 0 else value * resource.scale
        return out


def shown(value: int, scale: int) -> str:
    """A usage in the unit its limit is shown in: 1.5 (GiB) for 1610612736 bytes."""
    if scale == 1:
        return str(value)
    return f"{value / scale:.1f}".removesuffix(".0")


class UserSettingsForm(BootstrapMixin, forms.ModelForm):
    items_per_page = forms.TypedChoiceField(
        label="Items per page",
        coerce=int,
        empty_value=None,
        required=False,
        help_text="In the tables of the dashboard.",
    )
    time_zone = forms.ChoiceField(
        label="Time zone", required=False, help_text="Dates in the dashboard are shown in this time zone."
    )

    class Meta:
        model = User
        fields = ["items_per_page", "time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items_per_page"].choices = [("", "Each table's default")] + [
            (n, str(n)) for n in preferences.PAGE_SIZES
        ]
        self.fields["time_zone"].choices = [("", "UTC (default)")] + [
            (z, z) for z in preferences.time_zones()
        ]


class PasswordChangeForm(BootstrapMixin, forms.Form):
    current_password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Every other session and every API token of yours ends.",
    )
    confirm_password = forms.CharField(
        label="Confirm new password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_new_password(self) -> str:
        password = self.cleaned_data["new_password"]
        password_validation.validate_password(password, self.user)
        return password

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("confirm_password") != data["new_password"]:
            self.add_error("confirm_password", "The two passwords do not match.")
        return data
