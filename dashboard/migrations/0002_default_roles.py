from django.db import migrations


def create_roles(apps, schema_editor):
    Role = apps.get_model("dashboard", "Role")
    for name in ("admin", "member", "reader"):
        Role.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0001_initial")]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
