from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = "Flavors, compute hosts and instances"

    def ready(self) -> None:
        from dashboard import policy

        from . import policies

        policy.register_defaults(policies.RULES)
