"""Dashboard pages of the instances app: Instances, Launch Instance, Volumes, Key Pairs, Hypervisors."""

from django.urls import path

from instances.views import (
    consoles,
    detail,
    edit,
    forwards,
    hypervisors,
    instances,
    keypairs,
    launch,
    operations,
    server_groups,
    usage,
    volumes,
)

urlpatterns = [
    path("usage/", usage.project_usage, name="project-usage"),
    path("admin/usage/", usage.admin_usage, name="admin-usage"),
    path("instances/", instances.instance_list, name="instances"),
    path("instances/launch/", launch.instance_launch, name="instance-launch"),
    path("instances/batch/<str:action>/", instances.instance_batch, name="instance-batch"),
    path("instances/<uuid:instance_id>/", detail.instance_detail, name="instance-detail"),
    path("instances/<uuid:instance_id>/row/", instances.instance_row, name="instance-row"),
    path("instances/<uuid:instance_id>/log/", detail.instance_log, name="instance-log"),
    path(
        "instances/<uuid:instance_id>/log/download/",
        detail.instance_log_download,
        name="instance-log-download",
    ),
    path(
        "instances/<uuid:instance_id>/console/", consoles.instance_console_page, name="instance-console-page"
    ),
    path("console/", consoles.console_page, name="console-page"),
    path("instances/<uuid:instance_id>/snapshot/", instances.instance_snapshot, name="instance-snapshot"),
    path("instances/<uuid:instance_id>/edit/", edit.instance_edit, name="instance-edit"),
    path("instances/<uuid:instance_id>/metadata/", edit.instance_metadata, name="instance-metadata"),
    path("instances/<uuid:instance_id>/lock/", edit.instance_lock, name="instance-lock"),
    path("instances/<uuid:instance_id>/unlock/", edit.instance_unlock, name="instance-unlock"),
    path(
        "instances/<uuid:instance_id>/action/<str:action>/",
        instances.instance_action,
        name="instance-action",
    ),
    path("instances/<uuid:instance_id>/resize/", operations.instance_resize, name="instance-resize"),
    path("instances/<uuid:instance_id>/rebuild/", operations.instance_rebuild, name="instance-rebuild"),
    path("instances/<uuid:instance_id>/rescue/", operations.instance_rescue, name="instance-rescue"),
    path("instances/<uuid:instance_id>/op/<str:name>/", operations.instance_op, name="instance-op"),
    path(
        "instances/<uuid:instance_id>/live-migrate/",
        operations.instance_live_migrate,
        name="instance-live_migrate",
    ),
    path("instances/<uuid:instance_id>/forwards/", forwards.forward_add, name="instance-forward-add"),
    path(
        "instances/<uuid:instance_id>/forwards/<uuid:forward_id>/remove/",
        forwards.forward_remove,
        name="instance-forward-remove",
    ),
    path("admin/instances/", instances.admin_instance_list, name="admin-instances"),
    path("admin/hypervisors/", hypervisors.hypervisor_list, name="admin-hypervisors"),
    path(
        "admin/hypervisors/<int:host_id>/toggle/",
        hypervisors.hypervisor_toggle,
        name="admin-hypervisor-toggle",
    ),
    path(
        "admin/hypervisors/<int:host_id>/migrate/",
        hypervisors.hypervisor_migrate,
        name="admin-hypervisor-migrate",
    ),
    path(
        "admin/hypervisors/<int:host_id>/evacuate/",
        hypervisors.hypervisor_evacuate,
        name="admin-hypervisor-evacuate",
    ),
    path(
        "admin/hypervisors/<int:host_id>/remove/",
        hypervisors.hypervisor_remove,
        name="admin-hypervisor-remove",
    ),
    path("volumes/", volumes.volume_list, name="project-volumes"),
    path("volumes/create/", volumes.volume_create, name="project-volume-create"),
    path("volumes/<str:volume_id>/row/", volumes.volume_row, name="project-volume-row"),
    path("volumes/<str:volume_id>/edit/", volumes.volume_edit, name="project-volume-edit"),
    path("volumes/<str:volume_id>/extend/", volumes.volume_extend, name="project-volume-extend"),
    path(
        "volumes/<str:volume_id>/attachments/", volumes.volume_attachments, name="project-volume-attachments"
    ),
    path("volumes/<str:volume_id>/upload/", volumes.volume_upload, name="project-volume-upload"),
    path("volumes/<str:volume_id>/delete/", volumes.volume_delete, name="project-volume-delete"),
    path("server-groups/", server_groups.server_group_list, name="project-server-groups"),
    path("server-groups/create/", server_groups.server_group_create, name="project-server-group-create"),
    path(
        "server-groups/<uuid:group_id>/delete/",
        server_groups.server_group_delete,
        name="project-server-group-delete",
    ),
    path("keypairs/", keypairs.keypair_list, name="project-keypairs"),
    path("keypairs/create/", keypairs.keypair_create, name="project-keypair-create"),
    path("keypairs/import/", keypairs.keypair_import, name="project-keypair-import"),
    path("keypairs/<str:name>/delete/", keypairs.keypair_delete, name="project-keypair-delete"),
]
