"""The files the API Access panel hands out for the openstack CLI and openstacksdk: an openrc shell
file and a clouds.yaml, for the signed-in user and project (never with the password: the openrc
asks for it, clouds.yaml leaves it to the client's prompt or OS_PASSWORD), or for an application
credential right after it is made (its secret included: that is what the file is for)."""

from __future__ import annotations

import shlex

import yaml
from django.conf import settings

from dashboard.api.urls import identity_url
from dashboard.identity.domain import DOMAIN
from dashboard.models import ApplicationCredential, Project, User

CLOUD_NAME = "stratus"


def _common(request) -> dict:
    return {
        "region_name": settings.REGION_NAME,
        "interface": "public",
        "identity_api_version": 3,
    }


def clouds_yaml(request, user: User, project: Project) -> str:
    cloud = {
        "auth": {
            "auth_url": f"{identity_url(request)}/v3",
            "username": user.username,
            "project_id": project.id,
            "project_name": project.name,
            "user_domain_name": DOMAIN["name"],
            "project_domain_id": DOMAIN["id"],
        },
        **_common(request),
    }
    header = (
        f"# The cloud {CLOUD_NAME!r} for the openstack CLI and openstacksdk: user {user.username}, "
        f"project {project.name}.\n"
        "# Save it as ~/.config/openstack/clouds.yaml (or ./clouds.yaml) and run\n"
        f"#   openstack --os-cloud {CLOUD_NAME} server list\n"
        "# The password is not in this file: the CLI asks for it, or reads OS_PASSWORD.\n"
    )
    return header + yaml.safe_dump({"clouds": {CLOUD_NAME: cloud}}, sort_keys=False)


def credential_clouds_yaml(request, cred: ApplicationCredential, secret: str) -> str:
    cloud = {
        "auth_type": "v3applicationcredential",
        "auth": {
            "auth_url": f"{identity_url(request)}/v3",
            "application_credential_id": cred.id,
            "application_credential_secret": secret,
        },
        **_common(request),
    }
    header = (
        f"# The cloud {CLOUD_NAME!r} signed in with application credential {cred.name!r} "
        f"(project {cred.project.name}).\n"
        "# It holds the credential's secret: keep it private (chmod 600).\n"
        f"#   openstack --os-cloud {CLOUD_NAME} server list\n"
    )
    return header + yaml.safe_dump({"clouds": {CLOUD_NAME: cloud}}, sort_keys=False)


def _exports(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in pairs)


def _unset_others() -> str:
    # Left over from another openrc, these would change what the CLI signs in with.
    names = (
        "OS_TENANT_ID OS_TENANT_NAME OS_USER_DOMAIN_ID OS_PROJECT_DOMAIN_NAME OS_TOKEN OS_CLOUD "
        "OS_AUTH_TYPE OS_APPLICATION_CREDENTIAL_ID OS_APPLICATION_CREDENTIAL_SECRET "
        "OS_USERNAME OS_PASSWORD OS_PROJECT_ID OS_PROJECT_NAME OS_USER_DOMAIN_NAME OS_PROJECT_DOMAIN_ID"
    )
    return f"unset {names}\n"


def openrc(request, user: User, project: Project) -> str:
    common = [
        ("OS_AUTH_URL", f"{identity_url(request)}/v3"),
        ("OS_PROJECT_ID", project.id),
        ("OS_PROJECT_NAME", project.name),
        ("OS_USER_DOMAIN_NAME", DOMAIN["name"]),
        ("OS_PROJECT_DOMAIN_ID", DOMAIN["id"]),
        ("OS_USERNAME", user.username),
        ("OS_REGION_NAME", settings.REGION_NAME),
        ("OS_INTERFACE", "public"),
        ("OS_IDENTITY_API_VERSION", "3"),
    ]
    prompt = f"Password of {user.username} for project {project.name}: "
    return (
        "#!/usr/bin/env bash\n"
        f"# The openstack CLI's environment for user {user.username} in project {project.name}.\n"
        "# Load it into your shell with:  source ./openrc.sh\n"
        "# It asks for your password; the password is not in this file.\n"
        + _unset_others()
        + _exports(common)
        + f"read -r -s -p {shlex.quote(prompt)} OS_PASSWORD\n"
        "echo >&2\n"
        "export OS_PASSWORD\n"
    )


def credential_openrc(request, cred: ApplicationCredential, secret: str) -> str:
    pairs = [
        ("OS_AUTH_TYPE", "v3applicationcredential"),
        ("OS_AUTH_URL", f"{identity_url(request)}/v3"),
        ("OS_APPLICATION_CREDENTIAL_ID", cred.id),
        ("OS_APPLICATION_CREDENTIAL_SECRET", secret),
        ("OS_REGION_NAME", settings.REGION_NAME),
        ("OS_INTERFACE", "public"),
        ("OS_IDENTITY_API_VERSION", "3"),
    ]
    return (
        "#!/usr/bin/env bash\n"
        f"# The openstack CLI's environment for application credential {cred.name!r} "
        f"(project {cred.project.name}).\n"
        "# It holds the credential's secret: keep it private (chmod 600).  source ./openrc.sh\n"
        + _unset_others()
        + _exports(pairs)
    )
