"""The Block Storage API v3 subset, mounted at /volume/v3/{project_id}/."""

from django.urls import path

from . import volumes

urlpatterns = [
    path("volumes", volumes.VolumeListView.as_view()),
    path("volumes/detail", volumes.VolumeDetailListView.as_view()),
    path("volumes/<str:volume_id>", volumes.VolumeView.as_view()),
    path("volumes/<str:volume_id>/action", volumes.VolumeActionView.as_view()),
    path("limits", volumes.LimitsView.as_view()),
    path("os-quota-sets/<str:target_id>", volumes.QuotaSetView.as_view()),
    path("os-quota-sets/<str:target_id>/defaults", volumes.QuotaDefaultsView.as_view()),
]
