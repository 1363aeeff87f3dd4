"""A database made while flavors lived in the instances app migrates forward intact.

The test database is migrated back to the state before the move (instances 0004, flavors
unapplied), filled through the historical models of that state, then migrated to the latest
state. The move is state-only: every table keeps its name and every row its values, the flavor
rows are now reached through ``flavors.models``, and only the content types change app label.

The round trip runs on the session's test database outside pytest-django's per-test transaction
(SQLite cannot change its schema inside one), so the fixture migrates forward and removes its rows
in a ``finally``: the database is left at the latest state with its migration-made rows (roles,
default flavors), which a transactional test's flush would have removed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from importlib import import_module

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from dashboard.models import Project, User
from flavors.models import Flavor, FlavorAccess, FlavorExtraSpec
from images.models import Image
from instances.models import ComputeHost, Instance, Volume, VolumeAttachment

# The tests only read, each in pytest-django's rolled back transaction; the module-scoped ``moved``
# fixture runs before and after them, outside it. The mark also makes pytest-django create the test
# database: without a test that uses the database, the session would have none and ``moved`` would
# migrate the settings' database.
pytestmark = pytest.mark.django_db

BEFORE = [
    ("instances", "0004_volumes"),
    ("images", "0002_import_validation_and_locations"),
    ("dashboard", "0003_revocation_generation"),
]
MOVED = ("flavor", "flavoraccess", "flavorextraspec")
# The move itself; later migrations (new tables of later features) are applied after the comparison.
THE_MOVE = [("flavors", "0001_initial"), ("instances", "0005_flavors_moved_to_their_app")]
TABLES = ("instances_flavor", "instances_flavoraccess", "instances_flavorextraspec")
DEFAULTS = [
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 20, 1),
    ("3", "m1.medium", 4096, 40, 2),
    ("4", "m1.large", 8192, 80, 4),
    ("5", "m1.xlarge", 16384, 160, 8),
]
# Rows that change on the way forward by design: the migration records and the relabelled types.
CHANGING = {"django_migrations", "django_content_type"}
WHEN = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


def migrate(targets) -> None:
    # A new executor each time: a loader caches which migrations are applied.
    MigrationExecutor(connection).migrate(targets)


def on_the_test_database() -> bool:
    """pytest-django's test database: SQLite's in memory, PostgreSQL's named test_<name>."""
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        return connection.creation.is_in_memory_db(name)
    return name.startswith("test_")


def latest_nodes() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, as the database returns it, in a stable order."""
    tables = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            tables[table] = sorted(cursor.fetchall(), key=repr)
    return tables


def fill_old_database(apps, tag: str) -> dict:
    """Rows as the code before the move made them, through the historical models."""
    get = apps.get_model
    Role, ContentType_ = get("dashboard", "Role"), get("contenttypes", "ContentType")
    member, _ = Role.objects.get_or_create(name="member")
    # Normally in every database; made again here if a flushed test database lost them.
    import_module("instances.migrations.0002_default_flavors").create_defaults(apps, None)
    types = {}
    for model in MOVED:
        types[model], _ = ContentType_.objects.get_or_create(app_label="instances", model=model)
    view_flavor, _ = get("auth", "Permission").objects.get_or_create(
        content_type=types["flavor"], codename="view_flavor", defaults={"name": "Can view flavor"}
    )

    Project_ = get("dashboard", "Project")
    alpha = Project_.objects.create(name=f"{tag}-alpha", description="first")
    beta = Project_.objects.create(name=f"{tag}-beta")
    gamma = Project_.objects.create(name=f"{tag}-gamma", enabled=False)
    user = get("dashboard", "User").objects.create(
        username=f"{tag}-user", password="!", email="u@example.com", default_project=alpha
    )
    get("dashboard", "RoleAssignment").objects.create(user=user, project=alpha, role=member)

    image = get("images", "Image").objects.create(
        name=f"{tag}-cirros",
        status="active",
        visibility="public",
        owner=alpha.pk,
        size=21430272,
        virtual_size=117440512,
        min_disk=1,
        min_ram=64,
        disk_format="qcow2",
        container_format="bare",
        checksum="443b7623e27ecf03dc9e01ee93f67afe",
        properties={"hw_disk_bus": "virtio", "os_distro": "cirros"},
        import_method="web-download",
        import_hash_algo="sha512",
    )
    get("images", "ImageTag").objects.create(image=image, value="tiny")

    Flavor_ = get("instances", "Flavor")
    public = Flavor_.objects.create(
        id=f"{tag}-public",
        name=f"{tag}.public",
        vcpus=2,
        ram=3072,
        disk=25,
        ephemeral=5,
        swap=512,
        rxtx_factor=1.5,
        description="Public, with every size set.",
    )
    private = Flavor_.objects.create(
        id=f"{tag}-private",
        name=f"{tag}.private",
        vcpus=4,
        ram=6144,
        disk=40,
        is_public=False,
        disabled=True,
        description="Only for alpha and beta.",
    )
    doomed = Flavor_.objects.create(id=f"{tag}-doomed", name=f"{tag}.doomed", vcpus=1, ram=256, disk=1)
    Access = get("instances", "FlavorAccess")
    Access.objects.create(flavor=private, project=alpha)
    Access.objects.create(flavor=private, project=beta)
    Spec = get("instances", "FlavorExtraSpec")
    Spec.objects.create(flavor=private, key="hw:cpu_policy", value="dedicated")
    Spec.objects.create(flavor=private, key="quota:disk_read_bytes_sec", value="10240")
    Spec.objects.create(flavor=public, key="hw:mem_page_size", value="")

    host = get("instances", "ComputeHost").objects.create(
        name=f"{tag}-host", hypervisor_type="fake", arch="x86_64", vcpus=16, memory_mb=32768, local_gb=500
    )
    Instance_ = get("instances", "Instance")

    def instance(name, project, flavor, **fields):
        return Instance_.objects.create(
            name=f"{tag}-{name}",
            project=project,
            user=user,
            flavor=flavor,
            flavor_ref=flavor.pk,
            flavor_name=flavor.name,
            vcpus=flavor.vcpus,
            memory_mb=flavor.ram,
            root_gb=flavor.disk,
            ephemeral_gb=flavor.ephemeral,
            swap_mb=flavor.swap,
            rxtx_factor=flavor.rxtx_factor,
            flavor_extra_specs={s.key: s.value for s in Spec.objects.filter(flavor=flavor)},
            image_id=str(image.pk),
            image_properties={"os_distro": "cirros"},
            host=host,
            **fields,
        )

    on_private = instance(
        "private", alpha, private, vm_state="active", task_state="", power_state=1, launched_at=WHEN
    )
    on_public = instance(
        "public", beta, public, vm_state="stopped", task_state="", power_state=4, address="10.0.0.5"
    )
    orphan = instance("orphan", alpha, doomed, vm_state="error", fault_code=500, fault_message="boom")
    Flavor_.objects.filter(pk=doomed.pk).delete()  # as the old code deleted it: SET_NULL

    volume = get("instances", "Volume").objects.create(
        project=alpha,
        user=user,
        name=f"{tag}-data",
        size=3,
        status="in-use",
        source="image",
        source_image_id=str(image.pk),
        bootable=True,
        metadata={"purpose": "db"},
    )
    attachment = get("instances", "VolumeAttachment").objects.create(
        volume=volume, instance=on_private, device="vdb", delete_on_termination=True, attached_at=WHEN
    )
    return {
        "projects": {"alpha": alpha.pk, "beta": beta.pk, "gamma": gamma.pk},
        "user": user.pk,
        "image": image.pk,
        "flavors": {"public": public.pk, "private": private.pk, "doomed": doomed.pk},
        "instances": {"private": on_private.pk, "public": on_public.pk, "orphan": orphan.pk},
        "volume": volume.pk,
        "attachment": attachment.pk,
        "types": {model: ct.pk for model, ct in types.items()},
        "view_flavor": view_flavor.pk,
    }


def remove_rows(tag: str) -> None:
    """Delete what the test made, with the current models, once the database is at the latest state."""
    Instance.objects.filter(name__startswith=tag).delete()  # cascades to the volume attachment
    Volume.objects.filter(name__startswith=tag).delete()
    Flavor.objects.filter(pk__startswith=tag).delete()  # cascades to access and extra specs
    Image.objects.filter(name__startswith=tag).delete()
    ComputeHost.objects.filter(name__startswith=tag).delete()
    User.objects.filter(username__startswith=tag).delete()
    Project.objects.filter(name__startswith=tag).delete()


@pytest.fixture(scope="module")
def moved(django_db_setup, django_db_blocker):
    """Migrate back to before the move, fill, snapshot, migrate through the move, snapshot, then
    migrate to the latest state (the model-level tests read the rows there)."""
    tag = f"mig{uuid.uuid4().hex[:8]}"
    latest = None
    try:
        with django_db_blocker.unblock():
            # Never the settings' database: only the test database may go back and forth.
            assert on_the_test_database(), connection.settings_dict["NAME"]
            latest = latest_nodes()
            migrate([*BEFORE, ("flavors", None)])
            applied = MigrationRecorder(connection).applied_migrations()
            assert ("instances", "0004_volumes") in applied
            assert ("instances", "0005_flavors_moved_to_their_app") not in applied
            assert not any(app == "flavors" for app, _ in applied)
            old_apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
            old_types = list(
                old_apps.get_model("contenttypes", "ContentType")
                .objects.filter(model__in=MOVED)
                .values_list("app_label", flat=True)
            )
            made = fill_old_database(old_apps, tag)
            before = snapshot()
            migrate([*THE_MOVE, *(node for node in BEFORE if node[0] != "instances")])
            ContentType.objects.clear_cache()
            after = snapshot()
            migrate(latest)
            ContentType.objects.clear_cache()
            applied = MigrationRecorder(connection).applied_migrations()
        yield {
            "made": made,
            "before": before,
            "after": after,
            "old_types": old_types,
            "applied": applied,
            "latest": latest,
        }
    finally:
        # Whatever failed, the next tests find the database at the latest state, without these rows.
        with django_db_blocker.unblock():
            migrate(latest or latest_nodes())
            ContentType.objects.clear_cache()
            remove_rows(tag)


@pytest.fixture
def made(moved) -> dict:
    return moved["made"]


def test_the_database_was_in_the_old_state_and_reaches_the_latest(moved):
    assert set(moved["old_types"]) == {"instances"}  # the content types were relabelled back
    for node in moved["latest"]:
        assert node in moved["applied"]
    assert ("flavors", "0001_initial") in moved["applied"]
    assert ("instances", "0005_flavors_moved_to_their_app") in moved["applied"]


def test_no_table_is_created_dropped_or_renamed(moved, made):
    before, after = moved["before"], moved["after"]
    assert set(after) == set(before)
    assert set(TABLES) <= set(after)
    assert not [table for table in after if table.startswith("flavors_")]
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "instances_instance")
    assert ("instances_flavor", "id") in [c["foreign_key"] for c in constraints.values() if c["foreign_key"]]
    assert Flavor._meta.db_table == "instances_flavor"
    assert FlavorAccess._meta.db_table == "instances_flavoraccess"
    assert FlavorExtraSpec._meta.db_table == "instances_flavorextraspec"


def test_every_row_keeps_its_values(moved, made):
    before, after = moved["before"], moved["after"]
    for table in sorted(set(before) - CHANGING):
        assert after[table] == before[table], table
    assert len(before["instances_flavoraccess"]) >= 2 and len(before["instances_flavorextraspec"]) >= 3
    # The content types keep their ids and models; only the app label of the flavor models changes.
    moved_ids = set(made["types"].values())
    expected = sorted(
        (pk, "flavors" if pk in moved_ids else app_label, model)
        for pk, app_label, model in before["django_content_type"]
    )
    assert sorted(after["django_content_type"]) == expected


def test_the_private_flavor_keeps_its_access_list_and_extra_specs(made):
    projects = made["projects"]
    private = Flavor.objects.get(pk=made["flavors"]["private"])
    assert (private.name, private.vcpus, private.ram, private.disk) == (
        private.pk.replace("-", "."),
        4,
        6144,
        40,
    )
    assert (private.is_public, private.disabled, private.description) == (
        False,
        True,
        "Only for alpha and beta.",
    )
    assert set(private.projects.values_list("pk", flat=True)) == {projects["alpha"], projects["beta"]}
    assert sorted(private.access.values_list("project_id", flat=True)) == sorted(
        [projects["alpha"], projects["beta"]]
    )
    assert dict(private.extra_specs.values_list("key", "value")) == {
        "hw:cpu_policy": "dedicated",
        "quota:disk_read_bytes_sec": "10240",
    }
    assert private in Project.objects.get(pk=projects["beta"]).flavors.all()
    assert not Project.objects.get(pk=projects["gamma"]).flavors.exists()
    assert Flavor.objects.with_instance_count().get(pk=private.pk).instance_count == 1

    public = Flavor.objects.get(pk=made["flavors"]["public"])
    assert (public.vcpus, public.ram, public.disk, public.ephemeral, public.swap, public.rxtx_factor) == (
        2,
        3072,
        25,
        5,
        512,
        1.5,
    )
    assert public.is_public and not public.disabled and not public.projects.exists()
    assert dict(public.extra_specs.values_list("key", "value")) == {"hw:mem_page_size": ""}
    assert not Flavor.objects.filter(pk=made["flavors"]["doomed"]).exists()


def test_the_default_flavors_are_still_there(made):
    got = Flavor.objects.filter(pk__in=[d[0] for d in DEFAULTS]).order_by("pk")
    assert [(f.pk, f.name, f.ram, f.disk, f.vcpus) for f in got] == DEFAULTS
    assert all(f.is_public for f in got)


def test_instances_point_at_the_flavors_of_the_flavors_app(made):
    ids = made["instances"]
    on_private = Instance.objects.select_related("flavor").get(pk=ids["private"])
    assert type(on_private.flavor) is Flavor
    assert on_private.flavor.pk == made["flavors"]["private"]
    assert on_private.flavor_extra_specs == {
        "hw:cpu_policy": "dedicated",
        "quota:disk_read_bytes_sec": "10240",
    }
    assert (on_private.vm_state, on_private.power_state, on_private.launched_at) == ("active", 1, WHEN)
    assert on_private.project_id == made["projects"]["alpha"]
    assert on_private.user_id == made["user"]

    on_public = Instance.objects.get(pk=ids["public"])
    assert on_public.flavor == Flavor.objects.get(pk=made["flavors"]["public"])
    assert (on_public.memory_mb, on_public.ephemeral_gb, on_public.swap_mb, on_public.rxtx_factor) == (
        3072,
        5,
        512,
        1.5,
    )
    assert on_public.address == "10.0.0.5"

    orphan = Instance.objects.get(pk=ids["orphan"])
    assert orphan.flavor is None and orphan.flavor_id is None
    assert (orphan.flavor_ref, orphan.flavor_name, orphan.vcpus, orphan.memory_mb) == (
        made["flavors"]["doomed"],
        made["flavors"]["doomed"].replace("-", "."),
        1,
        256,
    )
    # Queries join through the new model state to the same tables.
    assert list(
        Instance.objects.filter(flavor__access__project_id=made["projects"]["beta"]).values_list(
            "pk", flat=True
        )
    ) == [ids["private"]]
    assert list(Flavor.objects.get(pk=made["flavors"]["private"]).instances.all()) == [on_private]


def test_volumes_and_images_are_intact(made):
    volume = Volume.objects.get(pk=made["volume"])
    assert (volume.name.endswith("-data"), volume.size, volume.status, volume.bootable) == (
        True,
        3,
        "in-use",
        True,
    )
    assert volume.metadata == {"purpose": "db"} and volume.source_image_id == str(made["image"])
    attachment = VolumeAttachment.objects.get(pk=made["attachment"])
    assert (attachment.volume_id, attachment.instance_id) == (volume.pk, made["instances"]["private"])
    assert (attachment.device, attachment.delete_on_termination, attachment.attached_at) == (
        "vdb",
        True,
        WHEN,
    )

    image = Image.objects.get(pk=made["image"])
    assert (image.status, image.visibility, image.size, image.min_disk, image.disk_format) == (
        "active",
        "public",
        21430272,
        1,
        "qcow2",
    )
    assert image.properties == {"hw_disk_bus": "virtio", "os_distro": "cirros"}
    assert image.owner == made["projects"]["alpha"]
    assert list(image.tag_set.values_list("value", flat=True)) == ["tiny"]

    user = User.objects.get(pk=made["user"])
    assert user.default_project_id == made["projects"]["alpha"]
    assert list(user.assignments.values_list("project_id", "role__name")) == [
        (made["projects"]["alpha"], "member")
    ]


def test_the_flavor_content_types_moved_to_the_flavors_app(made):
    for model in (Flavor, FlavorAccess, FlavorExtraSpec):
        content_type = ContentType.objects.get_for_model(model)
        assert content_type.app_label == "flavors"
        # Relabelled in place, not made again: permissions and generic relations keep pointing at it.
        assert content_type.pk == made["types"][model._meta.model_name]
    assert not ContentType.objects.filter(app_label="instances", model__in=MOVED).exists()
    permission = Permission.objects.get(pk=made["view_flavor"])
    assert (permission.content_type.app_label, permission.content_type.model) == ("flavors", "flavor")
    assert ContentType.objects.get(pk=made["types"]["flavor"]).model_class() is Flavor
