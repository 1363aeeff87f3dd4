from django.urls import path, re_path

from dashboard.identity import admin_api, api, application_credentials_api

urlpatterns = [
    re_path(r"^v3/?$", api.V3View.as_view()),
    path("v3/auth/tokens", api.TokensView.as_view()),
    path("v3/auth/catalog", api.CatalogView.as_view()),
    path("v3/auth/projects", api.AuthProjectsView.as_view()),
    path("v3/projects", admin_api.ProjectsView.as_view()),
    path("v3/projects/<str:project_id>", admin_api.ProjectView.as_view()),
    path("v3/projects/<str:project_id>/users/<str:user_id>/roles", admin_api.UserProjectRolesView.as_view()),
    path(
        "v3/projects/<str:project_id>/users/<str:user_id>/roles/<str:role_id>",
        admin_api.GrantView.as_view(),
    ),
    path("v3/users", admin_api.UsersView.as_view()),
    path("v3/users/<str:user_id>", admin_api.UserView.as_view()),
    path("v3/users/<str:user_id>/password", admin_api.UserPasswordView.as_view()),
    path("v3/users/<str:user_id>/projects", api.UserProjectsView.as_view()),
    path(
        "v3/users/<str:user_id>/application_credentials",
        application_credentials_api.CredentialsView.as_view(),
    ),
    path(
        "v3/users/<str:user_id>/application_credentials/<str:credential_id>",
        application_credentials_api.CredentialView.as_view(),
    ),
    path("v3/roles", api.RolesView.as_view()),
    path("v3/roles/<str:role_id>", admin_api.RoleView.as_view()),
    path("v3/role_assignments", admin_api.RoleAssignmentsView.as_view()),
    path("v3/domains", admin_api.DomainsView.as_view()),
    path("v3/domains/<str:domain_id>", admin_api.DomainView.as_view()),
]
