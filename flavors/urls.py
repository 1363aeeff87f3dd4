"""Dashboard pages of the flavors app (the Nova flavor API lives in flavors/api)."""

from django.urls import path

from flavors import views

urlpatterns = [
    path("admin/flavors/", views.flavor_list, name="admin-flavors"),
    path("admin/flavors/create/", views.flavor_create, name="admin-flavor-create"),
    path("admin/flavors/delete/", views.flavor_delete, name="admin-flavor-delete"),
    path("admin/flavors/<str:flavor_id>/access/", views.flavor_access, name="admin-flavor-access"),
    path("admin/flavors/<str:flavor_id>/metadata/", views.flavor_metadata, name="admin-flavor-metadata"),
    path("flavors/", views.project_flavors, name="project-flavors"),
]
