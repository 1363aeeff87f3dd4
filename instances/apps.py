from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = "Compute hosts, instances and volumes"

    def ready(self) -> None:
        # Imported here, not at the top: Django loads apps.py before the app registry is ready.
        from dashboard import nav, overview, policy
        from dashboard.identity.admin import register_project_usage
        from flavors import usage as flavor_usage
        from images import usage as image_usage
        from instances import policies
        from instances.services import bulk, quotas, volume_quotas
        from instances.services.dependents import flavor_users, image_users
        from instances.services.projects import project_usage
        from instances.views.keypairs import own
        from instances.views.overview import overview_section

        policy.register_defaults(policies.RULES)
        for panel in (
            nav.Panel("project", "Instances", "instances", "pc-display", policies.SERVERS_DETAIL, 30),
            nav.Panel("project", "Volumes", "project-volumes", "hdd-stack", policies.VOLUME_GET_ALL, 35),
            nav.Panel("project", "Key Pairs", "project-keypairs", "key", policies.KEYPAIRS_INDEX, 37, own),
            nav.Panel(
                "project",
                "Server Groups",
                "project-server-groups",
                "diagram-3",
                policies.SERVER_GROUPS_INDEX,
                38,
            ),
            nav.Panel("project", "Usage", "project-usage", "bar-chart-line", policies.USAGE_SHOW, 15),
            nav.Panel("admin", "Usage", "admin-usage", "bar-chart-line-fill", policies.USAGE_LIST, 15),
            nav.Panel(
                "admin", "Hypervisors", "admin-hypervisors", "hdd-rack", policies.HYPERVISORS_DETAIL, 40
            ),
            nav.Panel(
                "admin",
                "Instances",
                "admin-instances",
                "pc-display-horizontal",
                policies.SERVERS_DETAIL_ALL_TENANTS,
                50,
            ),
        ):
            nav.register(panel)
        overview.register("instances", 20, overview_section)
        register_project_usage(project_usage)
        quotas.register()
        volume_quotas.register()
        image_usage.register_usage_provider(image_users)
        flavor_usage.register_usage_provider(flavor_users)
        bulk.register_actions()
