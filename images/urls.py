"""Dashboard pages of the images app (the Image API lives under /image/v2, see images/api)."""

from django.urls import path

from images.views import actions as manage
from images.views import bulk, transfers
from images.views import pages as views

urlpatterns = [
    path("images/", views.image_list, name="images"),
    path("images/create/", views.image_create, name="image-create"),
    path("images/delete/", manage.image_delete, name="image-delete"),
    path("images/bulk/<str:action>/", bulk.image_bulk, name="image-bulk"),
    path("images/<uuid:image_id>/", views.image_detail, name="image-detail"),
    path("images/<uuid:image_id>/row/", views.image_row, name="image-row"),
    path("images/<uuid:image_id>/abort/", transfers.image_abort, name="image-abort"),
    path("images/<uuid:image_id>/edit/", manage.image_edit, name="image-edit"),
    path("images/<uuid:image_id>/metadata/", manage.image_metadata, name="image-metadata"),
    path("images/<uuid:image_id>/members/", manage.image_members, name="image-members"),
    path("images/<uuid:image_id>/respond/", manage.image_respond, name="image-respond"),
    path(
        "images/<uuid:image_id>/deactivate/",
        manage.image_action,
        {"action": "deactivate"},
        name="image-deactivate",
    ),
    path(
        "images/<uuid:image_id>/reactivate/",
        manage.image_action,
        {"action": "reactivate"},
        name="image-reactivate",
    ),
    path("admin/images/", views.admin_image_list, name="admin-images"),
]
