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
            nav.Panel("project", "Volumes", "project-volumes", "hdd-stack", policies.VOLUME_GET_ALL, 25)
        )
