from django.urls import include, path, re_path

from dashboard import quota_views, user_settings, views
from dashboard.api import compute
from dashboard.identity.api import VersionsView as IdentityVersions

handler400 = "dashboard.views.bad_request"
handler403 = "dashboard.views.permission_denied"
handler404 = "dashboard.views.page_not_found"
handler500 = "dashboard.views.server_error"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("auth/login/", views.LoginView.as_view(), name="login"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("auth/switch/<str:project_id>/", views.switch_project, name="switch-project"),
    path("settings/", user_settings.user_settings, name="user-settings"),
    path("settings/password/", user_settings.password_change, name="password-change"),
    path("healthz", views.health, name="health"),
    path("jobs/<uuid:job_id>/", views.bulk_job, name="bulk-job"),
    path("admin/", views.admin_overview, name="admin-overview"),
    path("admin/projects/", views.project_list, name="admin-projects"),
    path("admin/projects/create/", views.project_create, name="admin-project-create"),
    path("admin/projects/<str:project_id>/", views.project_detail, name="admin-project-detail"),
    path("admin/projects/<str:project_id>/edit/", views.project_edit, name="admin-project-edit"),
    path("admin/projects/<str:project_id>/delete/", views.project_delete, name="admin-project-delete"),
    path("admin/projects/<str:project_id>/quotas/", quota_views.project_quotas, name="admin-project-quotas"),
    path("admin/defaults/", quota_views.default_quotas, name="admin-defaults"),
    path("admin/projects/<str:project_id>/assignments/", views.assignment_add, name="admin-assignment-add"),
    path(
        "admin/projects/<str:project_id>/assignments/<int:assignment_id>/remove/",
        views.assignment_remove,
        name="admin-assignment-remove",
    ),
    path("admin/users/", views.user_list, name="admin-users"),
    path("admin/users/create/", views.user_create, name="admin-user-create"),
    path("admin/users/<str:user_id>/edit/", views.user_edit, name="admin-user-edit"),
    path("admin/users/<str:user_id>/delete/", views.user_delete, name="admin-user-delete"),
    path("api-access/", include("dashboard.identity.access_urls")),
    re_path(r"^identity/?$", IdentityVersions.as_view()),
    path("identity/", include("dashboard.identity.urls")),
    re_path(r"^compute/?$", compute.VersionsView.as_view()),
    re_path(r"^compute/v2/?$", compute.V20View.as_view()),
    re_path(r"^compute/v2\.1$", compute.V21View.as_view()),
    path("compute/v2.1/", compute.V21View.as_view()),
    path("compute/v2.1/", include("flavors.api.urls")),
    path("compute/v2.1/", include("instances.api.urls")),
    path("", include("instances.api.volume_urls")),
    path("", include("images.api.urls")),
    path("", include("flavors.urls")),
    path("", include("instances.urls")),
    path("", include("images.urls")),
]
