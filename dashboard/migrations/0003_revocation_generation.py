from django.db import migrations, models


def create_generation(apps, schema_editor):
    apps.get_model("dashboard", "RevocationGeneration").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0002_default_roles")]

    operations = [
        migrations.CreateModel(
            name="RevocationGeneration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_generation, migrations.RunPython.noop),
    ]
