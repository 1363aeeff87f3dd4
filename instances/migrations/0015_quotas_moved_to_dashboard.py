"""The compute and volume quota overrides move into dashboard.QuotaLimit (one row per project and
resource), where every app's limits now live; a null field was "the default" and makes no row."""

from django.db import migrations

COMPUTE = ("instances", "cores", "ram", "server_groups", "server_group_members")
VOLUME = ("volumes", "gigabytes")


def forward(apps, schema_editor):
    QuotaLimit = apps.get_model("dashboard", "QuotaLimit")
    rows = []
    for model, names in (("ComputeQuota", COMPUTE), ("VolumeQuota", VOLUME)):
        for quota in apps.get_model("instances", model).objects.all():
            for name in names:
                value = getattr(quota, name)
                if value is not None:
                    rows.append(QuotaLimit(project_id=quota.project_id, resource=name, limit=value))
    QuotaLimit.objects.bulk_create(rows)


def backward(apps, schema_editor):
    QuotaLimit = apps.get_model("dashboard", "QuotaLimit")
    for model, names in (("ComputeQuota", COMPUTE), ("VolumeQuota", VOLUME)):
        Model = apps.get_model("instances", model)
        for row in QuotaLimit.objects.filter(project__isnull=False, resource__in=names):
            quota, _ = Model.objects.get_or_create(project_id=row.project_id)
            setattr(quota, row.resource, row.limit)
            quota.save()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0004_quota_limits"),
        ("instances", "0014_server_access_ips"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.DeleteModel(name="ComputeQuota"),
        migrations.DeleteModel(name="VolumeQuota"),
    ]
