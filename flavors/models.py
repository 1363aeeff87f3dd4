"""Flavors: the virtual hardware templates instances are launched with."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import Lower

from dashboard.api.schemas import MAX_INT
from dashboard.models import Project

MAX_RXTX = 3.40282e38
# Nova's flavor id pattern: letters, digits, ". _-", no leading or trailing space.
FLAVOR_ID_RE = r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"
EXTRA_SPEC_KEY_RE = r"^[a-zA-Z0-9-_:. ]{1,255}$"


class FlavorQuerySet(models.QuerySet):
    def visible_to(self, ctx) -> FlavorQuerySet:
        """Flavors the caller may see: all for an admin, else public ones and those shared with
        the caller's project (Nova's query filter, OSSA-2013-019)."""
        if ctx is not None and ctx.is_admin:
            return self
        if ctx is None or ctx.project_id is None:
            return self.filter(is_public=True)
        return self.filter(Q(is_public=True) | Q(access__project_id=ctx.project_id)).distinct()

    def launchable_by(self, ctx) -> FlavorQuerySet:
        """What a project user may pick when launching: visible and not disabled."""
        return self.visible_to(ctx).filter(disabled=False)

    def with_instance_count(self) -> FlavorQuerySet:
        """Annotate ``instance_count``: the flavor's instances that are not deleted (deleted
        rows stay in the table, as in Nova, for the action log)."""
        return self.annotate(
            instance_count=Count("instances", filter=Q(instances__deleted=False), distinct=True)
        )


class Flavor(models.Model):
    """A flavor. Its sizes never change after creation: an instance copies them (see
    :meth:`sizes`) so that deleting the flavor later leaves the instance intact."""

    SIZE_FIELDS = ("vcpus", "ram", "disk", "ephemeral", "swap", "rxtx_factor")

    id = models.CharField(
        primary_key=True,
        max_length=255,
        validators=[
            RegexValidator(
                FLAVOR_ID_RE,
                "ID may contain only letters, digits, spaces, periods, dashes and underscores, "
                "and may not begin or end with a space.",
            )
        ],
        verbose_name="ID",
    )
    name = models.CharField(max_length=255)
    vcpus = models.PositiveIntegerField(
        "vCPUs", validators=[MinValueValidator(1), MaxValueValidator(MAX_INT)]
    )
    ram = models.PositiveIntegerField(
        "RAM (MB)", validators=[MinValueValidator(1), MaxValueValidator(MAX_INT)]
    )
    disk = models.PositiveIntegerField("Root Disk (GB)", validators=[MaxValueValidator(MAX_INT)])
    ephemeral = models.PositiveIntegerField(
        "Ephemeral Disk (GB)", default=0, validators=[MaxValueValidator(MAX_INT)]
    )
    swap = models.PositiveIntegerField("Swap Disk (MB)", default=0, validators=[MaxValueValidator(MAX_INT)])
    rxtx_factor = models.FloatField(
        "RX/TX factor", default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(MAX_RXTX)]
    )
    is_public = models.BooleanField(default=True)
    disabled = models.BooleanField(default=False)
    description = models.TextField(blank=True, max_length=65535)
    projects = models.ManyToManyField(Project, through="FlavorAccess", related_name="flavors", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FlavorQuerySet.as_manager()

    class Meta:
        # The tables keep the names they had when flavors lived in the instances app.
        db_table = "instances_flavor"
        ordering = ["ram", "vcpus", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="flavor_name_unique",
                violation_error_message="A flavor with this name already exists.",
            ),
            models.CheckConstraint(
                condition=Q(vcpus__gte=1),
                name="flavor_vcpus_positive",
                violation_error_message="vCPUs must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(ram__gte=1),
                name="flavor_ram_positive",
                violation_error_message="RAM must be at least 1 MB.",
            ),
            models.CheckConstraint(
                condition=Q(rxtx_factor__gt=0),
                name="flavor_rxtx_positive",
                violation_error_message="The RX/TX factor must be greater than 0.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding and self.changed_sizes():
            raise ValidationError("Flavor sizes cannot be changed after creation.")
        if not self.id:
            self.id = self.generate_id()
        super().save(*args, **kwargs)
        self._stored_sizes = {f: getattr(self, f) for f in self.SIZE_FIELDS}

    @classmethod
    def from_db(cls, db, field_names, values):
        flavor = super().from_db(db, field_names, values)
        flavor._stored_sizes = {f: getattr(flavor, f) for f in cls.SIZE_FIELDS if f in field_names}
        return flavor

    def clean(self) -> None:
        super().clean()
        if self.name != self.name.strip():
            raise ValidationError({"name": "Name may not begin or end with whitespace."})
        changed = self.changed_sizes()
        if changed:
            raise ValidationError(dict.fromkeys(changed, "Flavor sizes cannot be changed after creation."))

    def changed_sizes(self) -> list[str]:
        stored = getattr(self, "_stored_sizes", {})
        return [f for f, value in stored.items() if getattr(self, f) != value]

    @staticmethod
    def generate_id() -> str:
        return str(uuid.uuid4())

    @property
    def root_and_ephemeral(self) -> int:
        return self.disk + self.ephemeral

    def sizes(self) -> dict[str, Any]:
        """The copy an instance keeps of its flavor (Nova's embedded ``instance.flavor``)."""
        return {
            "id": self.id,
            "name": self.name,
            "vcpus": self.vcpus,
            "ram": self.ram,
            "disk": self.disk,
            "ephemeral": self.ephemeral,
            "swap": self.swap,
            "rxtx_factor": self.rxtx_factor,
            "extra_specs": self.spec_dict(),
        }

    def spec_dict(self) -> dict[str, str]:
        """Extra specs as a dict; uses prefetched rows when there are some."""
        return {spec.key: spec.value for spec in self.extra_specs.all()}


class FlavorAccess(models.Model):
    """A project that may use a private flavor."""

    flavor = models.ForeignKey(Flavor, on_delete=models.CASCADE, related_name="access")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="flavor_access")

    class Meta:
        db_table = "instances_flavoraccess"
        ordering = ["flavor_id", "project_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["flavor", "project"],
                name="flavor_access_unique",
                violation_error_message="This project already has access to the flavor.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.project_id} may use {self.flavor_id}"


class FlavorExtraSpec(models.Model):
    flavor = models.ForeignKey(Flavor, on_delete=models.CASCADE, related_name="extra_specs")
    key = models.CharField(
        max_length=255,
        validators=[
            RegexValidator(
                EXTRA_SPEC_KEY_RE,
                "Keys may contain only letters, digits, spaces and the characters - _ : .",
            )
        ],
    )
    value = models.CharField(max_length=255, blank=True)

    class Meta:
        db_table = "instances_flavorextraspec"
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["flavor", "key"],
                name="flavor_extra_spec_unique",
                violation_error_message="This flavor already has this extra spec.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"
