"""Flavors now live in the flavors app (see flavors/migrations/0001_initial.py): the instances app
forgets its flavor models and points Instance.flavor at flavors.Flavor. Model state only; the
tables and the foreign key in the database stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flavors", "0001_initial"),
        ("instances", "0004_volumes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="flavor",
                    name="projects",
                ),
                migrations.AlterField(
                    model_name="instance",
                    name="flavor",
                    field=models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="instances",
                        to="flavors.flavor",
                    ),
                ),
                migrations.RemoveField(
                    model_name="flavoraccess",
                    name="flavor",
                ),
                migrations.RemoveField(
                    model_name="flavoraccess",
                    name="project",
                ),
                migrations.DeleteModel(
                    name="FlavorExtraSpec",
                ),
                migrations.DeleteModel(
                    name="Flavor",
                ),
                migrations.DeleteModel(
                    name="FlavorAccess",
                ),
            ],
            database_operations=[],
        ),
    ]
