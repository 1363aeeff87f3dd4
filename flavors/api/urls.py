"""The flavor resources of the Compute API v2.1, mounted at /compute/v2.1/."""

from django.urls import path

from flavors.api import views

urlpatterns = [
    path("flavors", views.FlavorListView.as_view()),
    path("flavors/detail", views.FlavorDetailListView.as_view()),
    path("flavors/<str:flavor_id>", views.FlavorView.as_view()),
    path("flavors/<str:flavor_id>/action", views.FlavorActionView.as_view()),
    path("flavors/<str:flavor_id>/os-flavor-access", views.FlavorAccessView.as_view()),
    path("flavors/<str:flavor_id>/os-extra_specs", views.ExtraSpecsView.as_view()),
    path("flavors/<str:flavor_id>/os-extra_specs/<str:key>", views.ExtraSpecView.as_view()),
]
