"""Logging in to a real guest as a cloud user does (tests/instances/compute/guestlogin.py): a key
pair made through the API, the instance launched with it and with user data, a port forward to its
port 22, and SSH through 127.0.0.1 with the private key the API returned.

The guest is the Linux test guest (tests/support/linuxguest.py) with its SSH server, uploaded as an
AKI/ARI/AMI triple whose command line asks it to act as a cloud image (``stratus.cloudinit=1``): it
takes its hostname and authorized key from meta_data.json and runs the user data, read from its
config drive or from the metadata service. The compute host runs in this process with the real QEMU
driver (TCG) and real bridges in a throwaway network namespace (the ``bridged`` fixture).
"""

from __future__ import annotations

import pytest
from django.conf import settings

from instances.compute.metadata import MetadataServer
from tests.instances.compute.guestlogin import CMDLINE, check_login, launch_with_key, ssh_ready
from tests.instances.conftest import upload_guest_triple
from tests.support.wait import wait_for

pytestmark = pytest.mark.live


def test_a_member_logs_in_with_the_key_pair_and_user_data_from_the_config_drive(
    ssh_guest, world, qemu_bridged, stores_dir, django_capture_on_commit_callbacks
):
    instance, port, private_key, public_key = launch_with_key(
        world,
        qemu_bridged,
        upload_guest_triple(world["home"].pk, ssh_guest, CMDLINE),
        django_capture_on_commit_callbacks,
        name="access-drive",
        config_drive=True,
    )
    try:
        lines = wait_for(
            lambda: ssh_ready(qemu_bridged, instance), timeout=120, interval=0.5, what="'ssh ready'"
        )
        assert "cloudinit source=configdrive" in lines
        assert "userdata exit=0" in lines
        check_login(port, private_key, public_key, "access-drive")
    finally:
        qemu_bridged.destroy_local(str(instance.pk))


def test_a_member_logs_in_with_the_key_pair_and_user_data_from_the_metadata_service(
    ssh_guest, world, qemu_bridged, stores_dir, django_capture_on_commit_callbacks
):
    # Answered in this thread, so that it sees this test's rows; listening before the guest boots.
    server = MetadataServer(qemu_bridged.host_name, settings.METADATA_PORT, threaded=False)
    server.httpd.timeout = 0.2
    instance = None
    try:
        instance, port, private_key, public_key = launch_with_key(
            world,
            qemu_bridged,
            upload_guest_triple(world["home"].pk, ssh_guest, CMDLINE),
            django_capture_on_commit_callbacks,
            name="access-meta",
            config_drive=False,
        )
        assert not qemu_bridged.driver.saved_spec(str(instance.pk)).config_drive

        def answered() -> list[str] | None:
            server.httpd.handle_request()  # one request of the guest, or none within the timeout
            return ssh_ready(qemu_bridged, instance)

        lines = wait_for(answered, timeout=120, interval=0.01, what="'ssh ready'")
        assert "cloudinit source=metadata" in lines
        assert "userdata exit=0" in lines
        check_login(port, private_key, public_key, "access-meta")
    finally:
        server.httpd.server_close()
        if instance is not None:
            qemu_bridged.destroy_local(str(instance.pk))
