from django.db import migrations, models

# What earlier versions created for the compute agent: the project with this description, and the
# user ``compute`` with no usable password whose only roles are on it. Only those are marked; an
# ordinary user or project with the name is left as it is (the agent then stops and says so).
OLD_DESCRIPTION = "Service accounts of the cloud's own processes"


def mark_earlier_service_identities(apps, schema_editor):
    Project = apps.get_model("dashboard", "Project")
    User = apps.get_model("dashboard", "User")
    project = Project.objects.filter(name="service", description=OLD_DESCRIPTION).first()
    if project is None:
        return
    project.service = True
    project.save(update_fields=["service"])
    user = User.objects.filter(username="compute", password__startswith="!").first()
    if user is not None and not user.assignments.exclude(project=project).exists():
        user.service = True
        user.save(update_fields=["service"])


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0007_bulk_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="service",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name="user",
            name="service",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(mark_earlier_service_identities, migrations.RunPython.noop),
    ]
