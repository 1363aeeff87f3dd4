"""Pages of the Instances, Launch Instance and Hypervisors panels."""

from django.urls import path

from . import detail, hypervisors, launch, servers

urlpatterns = [
    path("instances/", servers.instance_list, name="instances"),
    path("instances/launch/", launch.instance_launch, name="instance-launch"),
    path("instances/batch/<str:action>/", servers.instance_batch, name="instance-batch"),
    path("instances/<uuid:instance_id>/", detail.instance_detail, name="instance-detail"),
    path("instances/<uuid:instance_id>/row/", servers.instance_row, name="instance-row"),
    path("instances/<uuid:instance_id>/console/", detail.instance_console, name="instance-console"),
    path("instances/<uuid:instance_id>/snapshot/", servers.instance_snapshot, name="instance-snapshot"),
    path(
        "instances/<uuid:instance_id>/action/<str:action>/", servers.instance_action, name="instance-action"
    ),
    path("admin/instances/", servers.admin_instance_list, name="admin-instances"),
    path("admin/hypervisors/", hypervisors.hypervisor_list, name="admin-hypervisors"),
    path(
        "admin/hypervisors/<int:host_id>/toggle/",
        hypervisors.hypervisor_toggle,
        name="admin-hypervisor-toggle",
    ),
]
