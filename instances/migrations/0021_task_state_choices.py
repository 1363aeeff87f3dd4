from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("instances", "0020_server_disk_config_hostname"),
    ]

    operations = [
        migrations.AlterField(
            model_name="instance",
            name="task_state",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "None"),
                    ("scheduling", "Scheduling"),
                    ("spawning", "Spawning"),
                    ("powering-off", "Powering Off"),
                    ("powering-on", "Powering On"),
                    ("rebooting", "Rebooting"),
                    ("rebooting_hard", "Rebooting Hard"),
                    ("pausing", "Pausing"),
                    ("unpausing", "Resuming"),
                    ("suspending", "Suspending"),
                    ("resuming", "Resuming"),
                    ("image_snapshot", "Snapshotting"),
                    ("image_backup", "Backing Up"),
                    ("deleting", "Deleting"),
                    ("resize_prep", "Preparing Resize"),
                    ("resize_migrated", "Resize Migrated"),
                    ("resize_reverting", "Reverting Resize"),
                    ("rebuilding", "Rebuilding"),
                    ("rescuing", "Rescuing"),
                    ("unrescuing", "Unrescuing"),
                    ("shelving", "Shelving"),
                    ("shelving_offloading", "Shelving Offloading"),
                    ("unshelving", "Unshelving"),
                    ("migrating", "Migrating"),
                ],
                default="scheduling",
                max_length=32,
            ),
        ),
    ]
