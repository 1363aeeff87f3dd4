from django.apps import AppConfig

from dashboard import nav, policy
from flavors import policies


class FlavorsConfig(AppConfig):
    name = "flavors"
    verbose_name = "Flavors"

    def ready(self) -> None:
        policy.register_defaults(policies.RULES)
        nav.register(
            nav.Panel("admin", "Flavors", "admin-flavors", "grid-3x3-gap", policies.FLAVOR_CREATE, 30)
        )
        nav.register(nav.Panel("project", "Flavors", "project-flavors", "grid-3x3", policies.FLAVOR_READ, 40))
