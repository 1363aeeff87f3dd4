from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = "Flavors, compute hosts and instances"

    def ready(self) -> None:
        from dashboard import nav, policy

        from . import policies

        policy.register_defaults(policies.RULES)
        nav.register(
            nav.Panel("admin", "Flavors", "admin-flavors", "grid-3x3-gap", policies.FLAVOR_CREATE, 30)
        )
        nav.register(nav.Panel("project", "Flavors", "project-flavors", "grid-3x3", policies.FLAVOR_READ, 40))
        nav.register(
            nav.Panel("project", "Volumes", "project-volumes", "hdd-stack", policies.VOLUME_GET_ALL, 35)
        )
        self.register_instance_panels()

    def register_instance_panels(self) -> None:
        from dashboard import nav, overview

        from . import policies
        from .panels.overview import overview_section

        nav.register(
            nav.Panel("project", "Instances", "instances", "pc-display", policies.SERVERS_DETAIL, 30)
        )
        nav.register(
            nav.Panel(
                "admin", "Hypervisors", "admin-hypervisors", "hdd-rack", policies.HYPERVISORS_DETAIL, 40
            )
        )
        nav.register(
            nav.Panel(
                "admin",
                "Instances",
                "admin-instances",
                "pc-display-horizontal",
                policies.SERVERS_DETAIL_ALL_TENANTS,
                50,
            )
        )
        overview.register("instances", 20, overview_section)
