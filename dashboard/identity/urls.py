from django.urls import path, re_path

from dashboard.identity import api

urlpatterns = [
    re_path(r"^v3/?$", api.V3View.as_view()),
    path("v3/auth/tokens", api.TokensView.as_view()),
    path("v3/auth/catalog", api.CatalogView.as_view()),
    path("v3/auth/projects", api.AuthProjectsView.as_view()),
    path("v3/projects", api.ProjectsView.as_view()),
    path("v3/projects/<str:project_id>", api.ProjectView.as_view()),
    path("v3/users", api.UsersView.as_view()),
    path("v3/users/<str:user_id>", api.UserView.as_view()),
    path("v3/users/<str:user_id>/projects", api.UserProjectsView.as_view()),
    path("v3/roles", api.RolesView.as_view()),
]
