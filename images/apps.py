from django.apps import AppConfig
from django.conf import settings


class ImagesConfig(AppConfig):
    name = "images"
    verbose_name = "Images"

    def ready(self) -> None:
        # Imported here: Django imports apps.py before the app registry is ready, and these load models.
        from dashboard import metadata_catalog, nav, policy
        from dashboard.identity.admin import register_project_usage
        from images import bulk, policies, protections, quotas, tasks  # noqa: F401 - tasks registers the worker hooks
        from images.metadefs import lookups
        from images.services import project_usage

        policy.register_defaults(policies.RULES)
        nav.register(nav.Panel("project", "Images", "images", "hdd-stack", "get_images", 20))
        nav.register(nav.Panel("admin", "Images", "admin-images", "hdd-stack-fill", "get_images", 60))
        register_project_usage(project_usage)
        quotas.register()
        bulk.register_actions()
        metadata_catalog.register(lookups.known_properties)
        # A missing or invalid protection file stops the process here, as glance-api refuses to start.
        protections.load(settings.IMAGE_PROPERTY_PROTECTION_FILE, settings.IMAGE_PROPERTY_PROTECTION_FORMAT)
