"""Project → API Access: endpoints, the openrc and clouds.yaml downloads (no password in either),
and application credentials made and deleted in the panel."""

from __future__ import annotations

import pytest
import yaml
from django.urls import reverse

from dashboard.models import ApplicationCredential
from tests.factories import PASSWORD, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    project = make_project("demo")
    user = make_user("alice", roles={project: "member"})
    client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    return user, project


def test_the_panel_lists_the_catalog_s_endpoints(client, alice, django_assert_max_num_queries):
    _, project = alice
    with django_assert_max_num_queries(20):
        page = client.get(reverse("project-api-access")).content.decode()
    assert f"http://testserver/volume/v3/{project.id}" in page
    assert "http://testserver/compute/v2.1" in page and 'href="/api-access/"' in page


def test_openrc_and_clouds_yaml_name_the_user_and_project_and_hold_no_password(client, alice):
    user, project = alice
    rc = client.get(reverse("project-api-access-openrc"))
    assert rc["Content-Disposition"] == 'attachment; filename="demo-openrc.sh"'
    text = rc.content.decode()
    assert "export OS_AUTH_URL=http://testserver/identity/v3" in text
    assert f"export OS_PROJECT_ID={project.id}" in text and "export OS_USERNAME=alice" in text
    assert "read -r -s -p" in text and PASSWORD not in text

    clouds = client.get(reverse("project-api-access-clouds"))
    assert clouds["Content-Disposition"] == 'attachment; filename="clouds.yaml"'
    cloud = yaml.safe_load(clouds.content)["clouds"]["stratus"]
    assert cloud["auth"]["username"] == "alice" and cloud["auth"]["project_id"] == project.id
    assert "password" not in cloud["auth"] and PASSWORD not in clouds.content.decode()


def test_a_credential_made_in_the_panel_shows_its_secret_once_and_its_files_need_it(client, alice):
    user, project = alice
    form = client.get(reverse("project-app-credential-create")).content.decode()
    assert 'value="member"' in form and 'value="reader"' in form and 'value="admin"' not in form
    response = client.post(
        reverse("project-app-credential-create"),
        {"name": "backup", "description": "nightly", "roles": ["reader"], "expires_at": "2099-01-01T00:00"},
    )
    assert response.status_code == 200
    secret = response.context["secret"]
    cred = ApplicationCredential.objects.get(user=user, name="backup")
    assert [r.name for r in cred.roles.all()] == ["reader"] and cred.expires_at.year == 2099
    assert secret in response.content.decode() and secret not in cred.secret_hash
    assert secret not in client.get(reverse("project-api-access")).content.decode()

    url = reverse("project-app-credential-file", args=[cred.id, "clouds.yaml"])
    assert client.post(url, {"secret": "guess"}).status_code == 403
    cloud = yaml.safe_load(client.post(url, {"secret": secret}).content)["clouds"]["stratus"]
    assert cloud["auth_type"] == "v3applicationcredential"
    assert cloud["auth"]["application_credential_id"] == cred.id
    assert cloud["auth"]["application_credential_secret"] == secret
    rc = client.post(reverse("project-app-credential-file", args=[cred.id, "openrc"]), {"secret": secret})
    assert f"export OS_APPLICATION_CREDENTIAL_SECRET={secret}" in rc.content.decode()

    again = client.post(reverse("project-app-credential-create"), {"name": "backup"})
    assert "already exists" in again.content.decode()
    assert client.post(reverse("project-app-credential-delete", args=[cred.id])).status_code == 302
    assert not ApplicationCredential.objects.exists()


def test_another_user_s_credential_is_not_found(client, alice):
    _, project = alice
    bob = make_user("bob", roles={project: "member"})
    other = ApplicationCredential.objects.create(user=bob, project=project, name="x", secret_hash="!")
    assert client.get(reverse("project-app-credential-delete", args=[other.id])).status_code == 404
    assert client.post(reverse("project-app-credential-delete", args=[other.id])).status_code == 404
    assert ApplicationCredential.objects.filter(id=other.id).exists()
