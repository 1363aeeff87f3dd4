"""The catalog's data files offer exactly the hardware values a launch accepts (the images app may
not import instances, so the values are written in the data files and checked here)."""

from __future__ import annotations

from images.metadefs import catalog
from instances.services import hardware


def _image_properties() -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in catalog.data_files():
        document = catalog.read(path)
        for association in document.get("resource_type_associations", []):
            if association["name"] == "OS::Glance::Image":
                prefix = association.get("prefix", "")
                found.update(
                    {prefix + name: schema for name, schema in document.get("properties", {}).items()}
                )
    return found


def test_every_hardware_property_is_in_the_catalog_with_the_values_a_launch_accepts():
    known = _image_properties()
    for prop in hardware.PROPERTIES:
        schema = known[prop.name]
        if prop.values is hardware.BOOLEAN:
            assert schema["type"] == "boolean", prop.name
        else:
            assert set(schema["enum"]) == set(prop.values), prop.name
            # Every value the catalog offers launches.
            for value in schema["enum"]:
                prop.value_of(value)


def test_a_boolean_the_dialogs_offer_is_one_a_launch_accepts():
    for value in ("true", "false"):
        assert value in hardware.BOOLEAN
