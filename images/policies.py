"""Glance's policy names with our defaults (security-cases §6); an operator file may override them."""

from dashboard.policy import ADMIN, ADMIN_OR_MEMBER, RuleDefault

READER_OF_OWNER_OR_MEMBER = (
    f"{ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))"
)
MEMBER_WHO_MAY_DOWNLOAD = (
    f"{ADMIN} or (role:member and (project_id:%(project_id)s or project_id:%(member_id)s"
    " or 'community':%(visibility)s or 'public':%(visibility)s))"
)

RULES = [
    RuleDefault("get_images", f"{ADMIN} or role:reader", "List images."),
    RuleDefault(
        "get_image",
        f"{ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s"
        " or 'community':%(visibility)s or 'public':%(visibility)s))",
        "Show an image.",
    ),
    RuleDefault("add_image", f"{ADMIN} or (role:member and project_id:%(owner)s)", "Create an image record."),
    RuleDefault("modify_image", ADMIN_OR_MEMBER, "Update an image's metadata."),
    RuleDefault("publicize_image", ADMIN, "Make an image public."),
    RuleDefault("communitize_image", ADMIN_OR_MEMBER, "Make an image community."),
    RuleDefault("delete_image", ADMIN_OR_MEMBER, "Delete an image."),
    RuleDefault("download_image", MEMBER_WHO_MAY_DOWNLOAD, "Download image data."),
    RuleDefault("upload_image", ADMIN_OR_MEMBER, "Upload, stage or import image data."),
    # Glance's defaults: the owner's members may deactivate and reactivate their own images.
    RuleDefault("deactivate", ADMIN_OR_MEMBER, "Deactivate an image."),
    RuleDefault("reactivate", ADMIN_OR_MEMBER, "Reactivate an image."),
    RuleDefault("add_member", ADMIN_OR_MEMBER, "Share an image with a project."),
    RuleDefault("delete_member", ADMIN_OR_MEMBER, "Stop sharing an image with a project."),
    RuleDefault("get_member", READER_OF_OWNER_OR_MEMBER, "Show one membership."),
    RuleDefault("get_members", READER_OF_OWNER_OR_MEMBER, "List an image's members."),
    RuleDefault(
        "modify_member", f"{ADMIN} or (role:member and project_id:%(member_id)s)", "Accept or reject."
    ),
    RuleDefault("copy_image", ADMIN, "Copy an image to another store."),
    RuleDefault(
        "get_image_location",
        f"{ADMIN} or (role:member and project_id:%(project_id)s)",
        "List an image's HTTP locations (admins and the owner; store keys are never shown).",
    ),
    RuleDefault(
        "add_image_location",
        f"{ADMIN} or (role:member and project_id:%(project_id)s)",
        "Give a queued image an HTTP(S) location whose data stays remote.",
    ),
    RuleDefault("set_image_location", ADMIN, "Add a location to an image."),
    RuleDefault("delete_image_location", ADMIN, "Remove a location."),
    RuleDefault("manage_image_cache", ADMIN, "Manage the image cache."),
    RuleDefault("get_task", ADMIN, "Show an image task."),
    RuleDefault("get_tasks", ADMIN, "List image tasks."),
    RuleDefault("add_task", ADMIN, "Create an image task."),
    RuleDefault("modify_task", ADMIN, "Update an image task."),
    RuleDefault("tasks_api_access", ADMIN, "Use the tasks API."),
]


def target(ctx, image) -> dict:
    """The policy target of an image, seen by ``ctx`` (member_id is set when ctx's project is one)."""
    member_id = None
    if (
        ctx is not None
        and ctx.project_id
        and image.owner != ctx.project_id
        and any(m.member == ctx.project_id for m in image.members.all())
    ):
        member_id = ctx.project_id
    return {
        "project_id": image.owner,
        "owner": image.owner,
        "visibility": image.visibility,
        "member_id": member_id,
        "image_id": str(image.pk),
    }


# The metadata definitions catalog: Glance's defaults, reads for anyone who may see the namespace
# (visibility is applied to the rows, so a hidden namespace is a 404), writes for administrators.
METADEF_DEFAULT = ""
METADEF_ADMIN = ADMIN
METADEF_RULES = [
    RuleDefault("metadef_default", METADEF_DEFAULT, "Read the metadata definitions catalog."),
    RuleDefault("metadef_admin", METADEF_ADMIN, "Change the metadata definitions catalog."),
    *(
        RuleDefault(name, "rule:metadef_default", description)
        for name, description in (
            ("get_metadef_namespace", "Show a metadata definition namespace."),
            ("get_metadef_namespaces", "List metadata definition namespaces."),
            ("get_metadef_object", "Show a metadata definition object."),
            ("get_metadef_objects", "List a namespace's objects."),
            ("get_metadef_property", "Show a metadata definition property."),
            ("get_metadef_properties", "List a namespace's properties."),
            ("get_metadef_tag", "Show a metadata definition tag."),
            ("get_metadef_tags", "List a namespace's tags."),
            ("list_metadef_resource_types", "List the resource types."),
            ("get_metadef_resource_type", "List a namespace's resource type associations."),
        )
    ),
    *(
        RuleDefault(name, "rule:metadef_admin", description)
        for name, description in (
            ("add_metadef_namespace", "Create a namespace."),
            ("modify_metadef_namespace", "Update a namespace."),
            ("delete_metadef_namespace", "Delete a namespace."),
            ("add_metadef_object", "Create an object."),
            ("modify_metadef_object", "Update an object."),
            ("delete_metadef_object", "Delete an object, or all of a namespace's objects."),
            ("add_metadef_property", "Create a property."),
            ("modify_metadef_property", "Update a property."),
            ("remove_metadef_property", "Delete a property, or all of a namespace's properties."),
            ("add_metadef_tag", "Create a tag."),
            ("add_metadef_tags", "Create or replace a namespace's tags."),
            ("modify_metadef_tag", "Rename a tag."),
            ("delete_metadef_tag", "Delete a tag."),
            ("delete_metadef_tags", "Delete all of a namespace's tags."),
            ("add_metadef_resource_type_association", "Associate a namespace with a resource type."),
            ("remove_metadef_resource_type_association", "Remove a resource type association."),
        )
    ),
]
RULES += METADEF_RULES


def metadef_target(ctx, namespace=None) -> dict:
    """The policy target of a namespace (or of the caller's project, for a new one)."""
    if namespace is None:
        return {"project_id": ctx.project_id}
    return {
        "project_id": namespace.owner,
        "visibility": namespace.visibility,
        "namespace": namespace.namespace,
    }
