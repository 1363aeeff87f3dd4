"""Flavors move out of the instances app into their own. The tables keep their names
(instances_flavor, instances_flavoraccess, instances_flavorextraspec), so only Django's model state
moves: nothing is copied and no row changes, except the content types, which follow the models."""

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models

MOVED = ("flavor", "flavoraccess", "flavorextraspec")


def relabel(old: str, new: str):
    def run(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        ContentType.objects.filter(app_label=old, model__in=MOVED).update(app_label=new)

    return run


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("dashboard", "0003_revocation_generation"),
        ("instances", "0004_volumes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Flavor",
                    fields=[
                        (
                            "id",
                            models.CharField(
                                max_length=255,
                                primary_key=True,
                                serialize=False,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        "^(?! )[a-zA-Z0-9. _-]+(?<! )$",
                                        "ID may contain only letters, digits, spaces, periods, dashes and underscores, and may not begin or end with a space.",
                                    )
                                ],
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=255)),
                        (
                            "vcpus",
                            models.PositiveIntegerField(
                                validators=[
                                    django.core.validators.MinValueValidator(1),
                                    django.core.validators.MaxValueValidator(2147483647),
                                ],
                                verbose_name="vCPUs",
                            ),
                        ),
                        (
                            "ram",
                            models.PositiveIntegerField(
                                validators=[
                                    django.core.validators.MinValueValidator(1),
                                    django.core.validators.MaxValueValidator(2147483647),
                                ],
                                verbose_name="RAM (MB)",
                            ),
                        ),
                        (
                            "disk",
                            models.PositiveIntegerField(
                                validators=[django.core.validators.MaxValueValidator(2147483647)],
                                verbose_name="Root Disk (GB)",
                            ),
                        ),
                        (
                            "ephemeral",
                            models.PositiveIntegerField(
                                default=0,
                                validators=[django.core.validators.MaxValueValidator(2147483647)],
                                verbose_name="Ephemeral Disk (GB)",
                            ),
                        ),
                        (
                            "swap",
                            models.PositiveIntegerField(
                                default=0,
                                validators=[django.core.validators.MaxValueValidator(2147483647)],
                                verbose_name="Swap Disk (MB)",
                            ),
                        ),
                        (
                            "rxtx_factor",
                            models.FloatField(
                                default=1.0,
                                validators=[
                                    django.core.validators.MinValueValidator(0.0),
                                    django.core.validators.MaxValueValidator(3.40282e38),
                                ],
                                verbose_name="RX/TX factor",
                            ),
                        ),
                        ("is_public", models.BooleanField(default=True)),
                        ("disabled", models.BooleanField(default=False)),
                        ("description", models.TextField(blank=True, max_length=65535)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "db_table": "instances_flavor",
                        "ordering": ["ram", "vcpus", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="FlavorAccess",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "flavor",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="access",
                                to="flavors.flavor",
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="flavor_access",
                                to="dashboard.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "instances_flavoraccess",
                        "ordering": ["flavor_id", "project_id"],
                    },
                ),
                migrations.AddField(
                    model_name="flavor",
                    name="projects",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="flavors",
                        through="flavors.FlavorAccess",
                        to="dashboard.project",
                    ),
                ),
                migrations.CreateModel(
                    name="FlavorExtraSpec",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "key",
                            models.CharField(
                                max_length=255,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        "^[a-zA-Z0-9-_:. ]{1,255}$",
                                        "Keys may contain only letters, digits, spaces and the characters - _ : .",
                                    )
                                ],
                            ),
                        ),
                        ("value", models.CharField(blank=True, max_length=255)),
                        (
                            "flavor",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="extra_specs",
                                to="flavors.flavor",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "instances_flavorextraspec",
                        "ordering": ["key"],
                    },
                ),
                migrations.AddConstraint(
                    model_name="flavoraccess",
                    constraint=models.UniqueConstraint(
                        fields=("flavor", "project"),
                        name="flavor_access_unique",
                        violation_error_message="This project already has access to the flavor.",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="flavor",
                    constraint=models.UniqueConstraint(
                        django.db.models.functions.text.Lower("name"),
                        name="flavor_name_unique",
                        violation_error_message="A flavor with this name already exists.",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="flavor",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("vcpus__gte", 1)),
                        name="flavor_vcpus_positive",
                        violation_error_message="vCPUs must be at least 1.",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="flavor",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("ram__gte", 1)),
                        name="flavor_ram_positive",
                        violation_error_message="RAM must be at least 1 MB.",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="flavor",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("rxtx_factor__gt", 0)),
                        name="flavor_rxtx_positive",
                        violation_error_message="The RX/TX factor must be greater than 0.",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="flavorextraspec",
                    constraint=models.UniqueConstraint(
                        fields=("flavor", "key"),
                        name="flavor_extra_spec_unique",
                        violation_error_message="This flavor already has this extra spec.",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(relabel("instances", "flavors"), relabel("flavors", "instances")),
    ]
