"""Key Pairs in headless Chromium against the live stack: create a pair (the private key downloads
once), see it offered on Launch Instance, delete it through the confirm page."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect

from tests.browser.test_login import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_demo_creates_a_key_pair_downloads_it_chooses_it_at_launch_and_deletes_it(page, credentials):
    name = f"kp-{uuid.uuid4().hex[:6]}"
    sign_in(page, "demo", credentials["demo"])
    page.get_by_role("link", name="Key Pairs").click()
    page.get_by_role("link", name="Create Key Pair").click()
    page.get_by_label("Key Pair Name").fill(name)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Create Key Pair").click()
    download = download_info.value
    assert download.suggested_filename == f"{name}.pem"
    with open(download.path(), "rb") as pem:
        private = serialization.load_ssh_private_key(pem.read(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )

    page.goto("/keypairs/")
    row = page.locator(f'tr[data-keypair="{name}"]')
    expect(row).to_be_visible()

    page.goto("/instances/launch/")
    key_pair = page.get_by_label("Key Pair", exact=True)
    key_pair.select_option(name)
    expect(key_pair).to_have_value(name)

    page.goto("/keypairs/")
    row.get_by_role("link", name="Delete").click()
    expect(page.get_by_text(name)).to_be_visible()
    page.get_by_role("button", name="Delete Key Pair").click()
    expect(page.get_by_text(f'Deleted key pair "{name}".')).to_be_visible()
    expect(page.locator(f'tr[data-keypair="{name}"]')).to_have_count(0)
    assert public.split()[0] == b"ssh-ed25519"
