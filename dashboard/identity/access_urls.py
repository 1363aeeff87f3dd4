"""The Project → API Access panel, under /api-access/."""

from django.urls import path

from dashboard.identity import access_views

urlpatterns = [
    path("", access_views.api_access, name="project-api-access"),
    path("openrc/", access_views.openrc, name="project-api-access-openrc"),
    path("clouds.yaml", access_views.clouds_yaml, name="project-api-access-clouds"),
    path("credentials/create/", access_views.credential_create, name="project-app-credential-create"),
    path(
        "credentials/<str:credential_id>/delete/",
        access_views.credential_delete,
        name="project-app-credential-delete",
    ),
    path(
        "credentials/<str:credential_id>/<str:kind>",
        access_views.credential_file,
        name="project-app-credential-file",
    ),
]
