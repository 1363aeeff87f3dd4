"""What a server create carries into the guest (key pair, user data, config drive) is checked before
anything is made: bad input is a 400 naming the field, and no instance, claim or task follows."""

from __future__ import annotations

import base64

import pytest

from instances.models import Instance
from tests.instances.api.test_servers import create_body, launch


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def refused(world, image, flavor, capture, field: str, who: str = "member", **extra) -> str:
    with capture() as callbacks:
        response = world[who].post("/servers", create_body(image, flavor, **extra), "2.96")
    assert response.status_code == 400, response.content
    message = response.json()["badRequest"]["message"]
    assert field in message, message
    assert callbacks == [] and not Instance.objects.exists()
    return message


@pytest.mark.parametrize(
    ("user_data", "problem"),
    [
        ("not base64 at all!", "base64"),
        (base64.b64encode(b"#!/bin/sh\n" + b"x" * 65536).decode(), "65535"),
        (["#!/bin/sh"], "base64"),
    ],
)
def test_user_data_that_is_not_base64_or_too_long_is_refused(
    world, host, image, tiny, capture, user_data, problem
):
    message = refused(world, image, tiny, capture, "user_data", user_data=user_data)
    assert problem in message


def test_a_key_name_nobody_has_is_refused(world, host, image, tiny, capture):
    refused(world, image, tiny, capture, "key_name", key_name="nobody-has-this")


def test_another_user_s_key_pair_cannot_be_used(world, host, image, tiny, capture):
    made = world["admin"].post("/os-keypairs", {"keypair": {"name": "roots"}}, "2.2")
    assert made.status_code == 201, made.content
    refused(world, image, tiny, capture, "key_name", key_name="roots")
    # Nor see it.
    assert world["member"].get("/os-keypairs/roots").status_code == 404


def test_config_drive_must_be_a_boolean(world, host, image, tiny, capture):
    refused(world, image, tiny, capture, "config_drive", config_drive="perhaps")


def test_good_input_is_kept(world, host, image, tiny, capture):
    assert world["member"].post("/os-keypairs", {"keypair": {"name": "mine"}}, "2.2").status_code == 201
    script = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    server_id = launch(
        world, host, image, tiny, capture, key_name="mine", user_data=script, config_drive=True
    )
    instance = Instance.objects.get(pk=server_id)
    assert (instance.key_name, instance.user_data, instance.config_drive) == ("mine", script, True)
    shown = world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]
    assert (shown["key_name"], shown["config_drive"]) == ("mine", "True")
