"""The five default flavors of an OpenStack installation (IDs 1-5). Safe to run again: an
existing flavor with the same ID or name is left as it is."""

from django.db import migrations
from django.db.models.functions import Lower

DEFAULT_FLAVORS = (
    # id, name, ram (MB), disk (GB), vcpus
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 20, 1),
    ("3", "m1.medium", 4096, 40, 2),
    ("4", "m1.large", 8192, 80, 4),
    ("5", "m1.xlarge", 16384, 160, 8),
)


def create_defaults(apps, schema_editor):
    Flavor = apps.get_model("instances", "Flavor")
    names = set(Flavor.objects.annotate(lname=Lower("name")).values_list("lname", flat=True))
    for flavor_id, name, ram, disk, vcpus in DEFAULT_FLAVORS:
        if name.lower() in names or Flavor.objects.filter(pk=flavor_id).exists():
            continue
        Flavor.objects.create(id=flavor_id, name=name, ram=ram, disk=disk, vcpus=vcpus)


class Migration(migrations.Migration):
    dependencies = [("instances", "0001_flavors")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
