from django.db import migrations


def create_manager_role(apps, schema_editor):
    apps.get_model("dashboard", "Role").objects.get_or_create(name="manager")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0010_application_credentials")]
    operations = [migrations.RunPython(create_manager_role, migrations.RunPython.noop)]
