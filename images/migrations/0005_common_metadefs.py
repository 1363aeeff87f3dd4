"""Loads the common namespaces of the metadata definitions catalog (images/metadefs/*.json)."""

from django.db import migrations

from images.metadefs import catalog


def load_common_namespaces(apps, schema_editor):
    catalog.load(
        catalog.Tables(
            namespace=apps.get_model("images", "MetadefNamespace"),
            resource_type=apps.get_model("images", "MetadefResourceType"),
            association=apps.get_model("images", "MetadefResourceTypeAssociation"),
            object=apps.get_model("images", "MetadefObject"),
            property=apps.get_model("images", "MetadefProperty"),
            tag=apps.get_model("images", "MetadefTag"),
        )
    )


class Migration(migrations.Migration):
    dependencies = [("images", "0004_metadefs")]

    operations = [migrations.RunPython(load_common_namespaces, migrations.RunPython.noop)]
