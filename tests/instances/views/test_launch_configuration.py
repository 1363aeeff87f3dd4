"""Launch Instance's Key Pair and Configuration: the chosen key pair, the customization script
(typed or loaded from a file, base64-encoded for the compute service) and the configuration drive
are kept on the instance, whose detail page names the key pair; a script over the service's limit is
refused on the form."""

from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.models import User
from instances.models import Instance
from instances.services import keypairs
from tests.instances.dashboard_support import PERSONAS, browser_for, launch_form, launch_in_dashboard

SCRIPT = "#cloud-config\nruncmd:\n  - echo héllo > /tmp/hello\n"


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def laptop(world):
    return keypairs.create_keypair(User.objects.get(username=PERSONAS["member"]), "laptop").keypair


def test_the_page_offers_the_users_key_pairs_and_none(world, host, image, laptop):
    page = browser_for("member").get("/instances/launch/").content.decode()
    section = page.split('data-testid="configuration"')[1]
    assert '<option value="" selected>No key pair</option>' in section
    assert '<option value="laptop">laptop</option>' in section
    assert "Customization Script" in section and "Configuration Drive" in section
    assert 'enctype="multipart/form-data"' in page


def test_a_launch_with_a_key_pair_a_script_and_a_config_drive_keeps_them(
    world, host, image, tiny, laptop, capture
):
    client = browser_for("member")
    (made,) = launch_in_dashboard(
        client, host, image, tiny, capture, key_name="laptop", user_data=SCRIPT, config_drive="on"
    )
    instance = Instance.objects.get(pk=made.pk)
    assert instance.key_name == "laptop" and instance.key_data == laptop.public_key
    assert base64.b64decode(instance.user_data).decode() == SCRIPT
    assert instance.config_drive is True
    assert instance.status == "ACTIVE"


def test_a_typed_script_reaches_the_guest_with_the_line_endings_of_a_script(
    world, host, image, tiny, capture
):
    # What a browser submits for a textarea: every line ended by CRLF (the HTML form encoding).
    typed = "#!/bin/sh\r\necho hi > /root/proof\r\n"
    (made,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture, user_data=typed)
    script = base64.b64decode(Instance.objects.get(pk=made.pk).user_data)
    assert script == b"#!/bin/sh\necho hi > /root/proof\n"


def test_a_script_loaded_from_a_file_is_sent_as_is(world, host, image, tiny, capture):
    raw = b"#!/bin/sh\r\nprintf '\\x00\\xff' > /tmp/bytes\n"
    upload = SimpleUploadedFile("init.sh", raw, content_type="text/x-shellscript")
    (made,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture, user_data_file=upload)
    instance = Instance.objects.get(pk=made.pk)
    assert base64.b64decode(instance.user_data) == raw
    assert instance.key_name == "" and instance.config_drive is False


def test_the_detail_page_names_the_key_pair_the_instance_was_launched_with(
    world, host, image, tiny, laptop, capture
):
    client = browser_for("member")
    (keyed,) = launch_in_dashboard(client, host, image, tiny, capture, name="keyed", key_name="laptop")
    (keyless,) = launch_in_dashboard(client, host, image, tiny, capture, name="keyless")
    for instance, shown in ((keyed, "laptop"), (keyless, "—")):
        page = client.get(f"/instances/{instance.pk}/").content.decode()
        assert f'<dd class="col-sm-8" data-testid="key-name">{shown}</dd>' in page


def test_a_launch_without_them_keeps_none(world, host, image, tiny, capture):
    (made,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture)
    instance = Instance.objects.get(pk=made.pk)
    assert (instance.key_name, instance.user_data, instance.config_drive) == ("", "", False)


def test_a_script_over_the_limit_is_refused_on_the_form(world, host, image, tiny, settings, capture):
    settings.COMPUTE_USER_DATA_MAX_BYTES = 64
    with capture() as callbacks:
        response = browser_for("member").post(
            "/instances/launch/", launch_form(image, tiny, user_data="x" * 60)
        )
    page = response.content.decode()
    assert response.status_code == 200 and callbacks == []
    error = page.split('data-testid="user-data-error">')[1].split("</div>")[0]
    assert (
        "Invalid input for field/attribute user_data" in error and "It is 80 bytes long; at most 64." in error
    )
    assert not Instance.objects.exists()


def test_a_script_typed_and_a_file_loaded_are_refused_together(world, host, image, tiny):
    upload = SimpleUploadedFile("init.sh", b"#!/bin/sh\n")
    response = browser_for("member").post(
        "/instances/launch/", launch_form(image, tiny, user_data="#!/bin/sh\n", user_data_file=upload)
    )
    assert "Type a script or load a file, not both." in response.content.decode()
    assert not Instance.objects.exists()


def test_another_users_key_pair_cannot_be_chosen(world, host, image, tiny):
    keypairs.import_keypair(
        User.objects.get(username=PERSONAS["outsider"]),
        "theirs",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMDFzm7VH9nUOl6LYDG1lXQnUeFoKSZbR3OW5UAzh7Vy x",
    )
    response = browser_for("member").post("/instances/launch/", launch_form(image, tiny, key_name="theirs"))
    assert "Select a valid choice. theirs is not one of the available choices." in response.content.decode()
    assert not Instance.objects.exists()
