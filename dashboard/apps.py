from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Stratus dashboard and identity"

    def ready(self) -> None:
        from dashboard import nav, policy, token_cache

        policy.register_defaults(policy.BASE_RULES)
        token_cache.connect_signals()
        nav.register_core_panels()
