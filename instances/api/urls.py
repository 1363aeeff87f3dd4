"""The Compute API v2.1, mounted at /compute/v2.1/."""

from django.urls import path

from instances.api import (
    hosts,
    instance_actions,
    keypairs,
    port_forwards,
    remote_consoles,
    server_groups,
    server_metadata,
    server_tags,
    servers,
    usage,
    volume_attachments,
)

urlpatterns = [
    path("servers", servers.ServerListView.as_view()),
    path("servers/detail", servers.ServerDetailListView.as_view()),
    path("servers/<str:server_id>", servers.ServerView.as_view()),
    path("servers/<str:server_id>/action", servers.ServerActionView.as_view()),
    path("servers/<str:server_id>/remote-consoles", remote_consoles.RemoteConsoleView.as_view()),
    path("servers/<str:server_id>/metadata", server_metadata.MetadataListView.as_view()),
    path("servers/<str:server_id>/metadata/<str:key>", server_metadata.MetadataItemView.as_view()),
    path("servers/<str:server_id>/tags", server_tags.TagListView.as_view()),
    path("servers/<str:server_id>/tags/<str:tag>", server_tags.TagView.as_view()),
    path("servers/<str:server_id>/os-instance-actions", instance_actions.InstanceActionListView.as_view()),
    path(
        "servers/<str:server_id>/os-instance-actions/<str:request_id>",
        instance_actions.InstanceActionView.as_view(),
    ),
    path("servers/<str:server_id>/os-volume_attachments", volume_attachments.AttachmentListView.as_view()),
    path(
        "servers/<str:server_id>/os-volume_attachments/<str:volume_id>",
        volume_attachments.AttachmentView.as_view(),
    ),
    path("servers/<str:server_id>/os-port-forwards", port_forwards.PortForwardListView.as_view()),
    path(
        "servers/<str:server_id>/os-port-forwards/<str:forward_id>", port_forwards.PortForwardView.as_view()
    ),
    path("os-hypervisors", hosts.HypervisorListView.as_view()),
    path("os-hypervisors/detail", hosts.HypervisorDetailListView.as_view()),
    path("os-hypervisors/statistics", hosts.HypervisorStatisticsView.as_view()),
    path("os-hypervisors/<str:hypervisor_id>", hosts.HypervisorView.as_view()),
    path("os-hypervisors/<str:hypervisor_id>/uptime", hosts.HypervisorUptimeView.as_view()),
    path("os-hypervisors/<str:pattern>/search", hosts.HypervisorSearchView.as_view()),
    path("os-hypervisors/<str:pattern>/servers", hosts.HypervisorServersView.as_view()),
    path("os-availability-zone", hosts.AvailabilityZoneView.as_view()),
    path("os-availability-zone/detail", hosts.AvailabilityZoneDetailView.as_view()),
    path("os-services", hosts.ServiceListView.as_view()),
    path("os-services/<str:service_id>", hosts.ServiceView.as_view()),
    path("os-migrations", hosts.MigrationListView.as_view()),
    path("os-quota-sets/<str:project_id>", hosts.QuotaSetView.as_view()),
    path("os-quota-sets/<str:project_id>/detail", hosts.QuotaSetDetailView.as_view()),
    path("os-quota-sets/<str:project_id>/defaults", hosts.QuotaDefaultsView.as_view()),
    path("os-quota-class-sets/<str:class_name>", hosts.QuotaClassSetView.as_view()),
    path("limits", hosts.LimitsView.as_view()),
    path("os-simple-tenant-usage", usage.UsageListView.as_view()),
    path("os-simple-tenant-usage/<str:project_id>", usage.UsageView.as_view()),
    path("os-server-groups", server_groups.ServerGroupListView.as_view()),
    path("os-server-groups/<str:group_id>", server_groups.ServerGroupView.as_view()),
    path("os-keypairs", keypairs.KeyPairListView.as_view()),
    path("os-keypairs/<str:name>", keypairs.KeyPairView.as_view()),
]
