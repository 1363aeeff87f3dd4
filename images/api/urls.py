"""The Image API v2 (Glance), mounted at the root: version discovery at /image, the API under /image/."""

from django.urls import include, path, re_path

from images.api import data, members, metadef_schemas, metadefs, schemas, tasks, uploads, views

api_patterns = [
    path("versions", views.VersionsView.as_view(multiple_choices=False)),
    re_path(r"^v2/?$", views.VersionsView.as_view(multiple_choices=False)),
    path("v2/images", views.ImageCollection.as_view()),
    path("v2/images/<str:image_id>", views.ImageItem.as_view()),
    path("v2/images/<str:image_id>/file", data.ImageFile.as_view()),
    path("v2/images/<str:image_id>/stage", data.ImageStage.as_view()),
    path("v2/images/<str:image_id>/import", data.ImageImport.as_view()),
    path("v2/images/<str:image_id>/uploads", uploads.UploadCollection.as_view()),
    path("v2/images/<str:image_id>/uploads/<str:upload_id>", uploads.UploadItem.as_view()),
    path("v2/images/<str:image_id>/locations", data.ImageLocations.as_view()),
    path("v2/images/<str:image_id>/tasks", tasks.ImageTasks.as_view()),
    path("v2/tasks", tasks.TaskCollection.as_view()),
    path("v2/tasks/<str:task_id>", tasks.TaskItem.as_view()),
    path("v2/images/<str:image_id>/actions/<str:action>", views.ImageAction.as_view()),
    path("v2/images/<str:image_id>/tags/<str:tag>", views.ImageTagItem.as_view()),
    path("v2/images/<str:image_id>/members", members.MemberCollection.as_view()),
    path("v2/images/<str:image_id>/members/<str:member_id>", members.MemberItem.as_view()),
    path("v2/info/import", data.ImportInfo.as_view()),
    path("v2/info/stores", data.StoresInfo.as_view()),
    path("v2/schemas/<str:name>", schemas.SchemaView.as_view()),
    path("v2/schemas/metadefs/<str:name>", metadef_schemas.MetadefSchemaView.as_view()),
    path("v2/metadefs/resource_types", metadefs.ResourceTypeCollection.as_view()),
    path("v2/metadefs/namespaces", metadefs.NamespaceCollection.as_view()),
    path("v2/metadefs/namespaces/<str:namespace>", metadefs.NamespaceItem.as_view()),
    path("v2/metadefs/namespaces/<str:namespace>/objects", metadefs.ObjectCollection.as_view()),
    path("v2/metadefs/namespaces/<str:namespace>/objects/<str:name>", metadefs.ObjectItem.as_view()),
    path("v2/metadefs/namespaces/<str:namespace>/properties", metadefs.PropertyCollection.as_view()),
    path("v2/metadefs/namespaces/<str:namespace>/properties/<str:name>", metadefs.PropertyItem.as_view()),
    path("v2/metadefs/namespaces/<str:namespace>/tags", metadefs.TagCollection.as_view()),
    path("v2/metadefs/namespaces/<str:namespace>/tags/<str:name>", metadefs.TagItem.as_view()),
    path("v2/metadefs/namespaces/<str:namespace>/resource_types", metadefs.AssociationCollection.as_view()),
    path(
        "v2/metadefs/namespaces/<str:namespace>/resource_types/<str:name>",
        metadefs.AssociationItem.as_view(),
    ),
]

urlpatterns = [
    re_path(r"^image/?$", views.VersionsView.as_view()),
    path("image/", include(api_patterns)),
]
