"""The Block Storage API v3 subset, mounted at the root: version discovery at /volume and
/volume/v3, the API under /volume/v3/{project_id}/."""

from django.urls import include, path, re_path

from instances.api import volume_json, volume_metadata, volumes

project_patterns = [
    path("volumes", volumes.VolumeListView.as_view()),
    path("volumes/detail", volumes.VolumeDetailListView.as_view()),
    path("volumes/summary", volumes.VolumeSummaryView.as_view()),
    path("os-availability-zone", volumes.AvailabilityZoneView.as_view()),
    path("volumes/<str:volume_id>", volumes.VolumeView.as_view()),
    path("volumes/<str:volume_id>/action", volumes.VolumeActionView.as_view()),
    path("volumes/<str:volume_id>/metadata", volume_metadata.MetadataListView.as_view()),
    path("volumes/<str:volume_id>/metadata/<str:key>", volume_metadata.MetadataItemView.as_view()),
    path("limits", volumes.LimitsView.as_view()),
    path("os-quota-sets/<str:target_id>", volumes.QuotaSetView.as_view()),
    path("os-quota-sets/<str:target_id>/defaults", volumes.QuotaDefaultsView.as_view()),
]

urlpatterns = [
    re_path(r"^volume/?$", volume_json.VersionsView.as_view(status=300)),
    re_path(r"^volume/v3/?$", volume_json.VersionsView.as_view()),
    path("volume/v3/<str:project_id>/", include(project_patterns)),
]
