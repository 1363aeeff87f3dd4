"""Dashboard pages of the instances app."""

from django.urls import include, path

from . import views, volume_views

urlpatterns = [
    path("admin/flavors/", views.flavor_list, name="admin-flavors"),
    path("admin/flavors/create/", views.flavor_create, name="admin-flavor-create"),
    path("admin/flavors/delete/", views.flavor_delete, name="admin-flavor-delete"),
    path("admin/flavors/<str:flavor_id>/access/", views.flavor_access, name="admin-flavor-access"),
    path("admin/flavors/<str:flavor_id>/metadata/", views.flavor_metadata, name="admin-flavor-metadata"),
    path("flavors/", views.project_flavors, name="project-flavors"),
    path("volumes/", volume_views.volume_list, name="project-volumes"),
    path("volumes/create/", volume_views.volume_create, name="project-volume-create"),
    path("volumes/<str:volume_id>/row/", volume_views.volume_row, name="project-volume-row"),
    path("volumes/<str:volume_id>/edit/", volume_views.volume_edit, name="project-volume-edit"),
    path("volumes/<str:volume_id>/extend/", volume_views.volume_extend, name="project-volume-extend"),
    path(
        "volumes/<str:volume_id>/attachments/",
        volume_views.volume_attachments,
        name="project-volume-attachments",
    ),
    path("volumes/<str:volume_id>/upload/", volume_views.volume_upload, name="project-volume-upload"),
    path("volumes/<str:volume_id>/delete/", volume_views.volume_delete, name="project-volume-delete"),
    path("", include("instances.panels.urls")),
]
