"""The Compute API v2.1, mounted at /compute/v2.1/."""

from django.urls import path

from . import base, flavors

urlpatterns = [
    path("", base.V21View.as_view()),
    path("flavors", flavors.FlavorListView.as_view()),
    path("flavors/detail", flavors.FlavorDetailListView.as_view()),
    path("flavors/<str:flavor_id>", flavors.FlavorView.as_view()),
    path("flavors/<str:flavor_id>/action", flavors.FlavorActionView.as_view()),
    path("flavors/<str:flavor_id>/os-flavor-access", flavors.FlavorAccessView.as_view()),
    path("flavors/<str:flavor_id>/os-extra_specs", flavors.ExtraSpecsView.as_view()),
    path("flavors/<str:flavor_id>/os-extra_specs/<str:key>", flavors.ExtraSpecView.as_view()),
]
