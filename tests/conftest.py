from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass

import pytest

from tests.instances.live import Cloud, token
from tests.plugin import DATABASE, TEST_ROOT
from tests.support import axe
from tests.support.linuxguest import BASE_CMDLINE, LinuxGuest, build_guest, guest_cmdline
from tests.support.netlab import Lab
from tests.support.openstackcli import OpenStackCLI
from tests.support.processes import ADMIN_PASSWORD, DEMO_PASSWORD, LiveStack, require

# The compute API callers (the `world` fixture) serve the flavors and the instances tests alike.
pytest_plugins = ["tests.support.compute"]


def pytest_configure(config) -> None:
    from django.conf import settings

    # In-process tests render templates without a collectstatic run, and hash test passwords quickly.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def stack_database() -> str:
    """The run's database backend. Every fixture that starts processes of Stratus with a database of
    their own (a LiveStack, `manage.py serve`) asks for it: that marks its tests as touching the
    database (tests.plugin), so they run on each backend; a LiveStack refuses to start without it."""
    return DATABASE


@pytest.fixture(scope="session")
def live_stack(stack_database):
    """The whole system running as `make run` runs it: Redis, a Celery worker and gunicorn."""
    stack = LiveStack(TEST_ROOT / f"live-{uuid.uuid4().hex[:8]}")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def credentials() -> dict[str, str]:
    return {"admin": ADMIN_PASSWORD, "demo": DEMO_PASSWORD}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH") or require("chromium")


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        new_context = browser.new_context

        def new_watched_context(*args, hold_navigations: bool = True, **kwargs):
            # Every context any test makes is checked with axe-core (tests/support/axe.py). Motion is
            # reduced (a user preference Bootstrap honours), so a check sees colours as they settle,
            # never a button's transition caught halfway after a click or a hover.
            kwargs.setdefault("reduced_motion", "reduce")
            context = new_context(*args, **kwargs)
            axe.watch(context, hold_navigations=hold_navigations)
            return context

        browser.new_context = new_watched_context
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def axe_guard():
    """Fails the test when a page or dialog it reached has a serious or critical accessibility
    violation (the checks run in every browser context; see tests/support/axe.py)."""
    axe.RECORDER.reset()
    yield axe.RECORDER
    if axe.RECORDER.findings:
        report = axe.RECORDER.report()
        axe.RECORDER.reset()
        pytest.fail(f"axe-core found serious or critical violations:\n{report}", pytrace=False)


@pytest.fixture
def page(browser, live_stack):
    context = browser.new_context(base_url=live_stack.url, viewport={"width": 1360, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def compute_host(live_stack) -> str:
    """One compute agent on the shared live stack, with the QEMU driver forced to TCG: every
    guest test passes without KVM, as it must in CI."""
    live_stack.start_compute_agent("live1", env={"STRATUS_QEMU_ACCEL": "tcg"})
    return "live1"


@dataclass
class BridgedAgent:
    """A compute agent of the live stack whose host is a network namespace of its own."""

    host: str
    zone: str
    netns: str


@pytest.fixture(scope="session")
def bridged_host(live_stack, tmp_path_factory):
    """A second compute agent on the shared live stack, with real bridge networking (bridges, DHCP,
    the metadata address, port forwards by nftables), as on a dedicated compute machine. Its "machine"
    is a throwaway network namespace: it shares the stack's database and Redis (files), and whatever
    it sets up vanishes with the namespace. Its availability zone is its own, so launches choose it.
    Tests use it through ``bridged_agent``, which puts it in the scheduler's way only meanwhile."""
    for tool in ("ip", "nft", "dnsmasq", "qemu-system-x86_64"):
        require(tool)
    lab = Lab(tag=secrets.token_hex(2), tmp=tmp_path_factory.mktemp("bridged-agent"))
    host = f"bridged-{lab.tag}"
    try:
        netns = lab.namespace("host")
        env = {"STRATUS_QEMU_ACCEL": "tcg", "STRATUS_COMPUTE_NETWORKING": "bridge"}
        live_stack.start_compute_agent(host, None, "lab", env=env, netns=netns)
        yield BridgedAgent(host=host, zone="lab", netns=netns)
    finally:
        agent = live_stack.services.pop(f"compute-{host}", None)
        if agent is not None:
            agent.stop()
        lab.destroy()  # kills what still runs in the namespace: its guests, its dnsmasq


@pytest.fixture
def bridged_agent(bridged_host, live_stack, credentials):
    """The bridged compute agent (``bridged_host``), enabled for this test and disabled after it, as
    an operator takes a host out of service: the scheduler sends a launch that names no zone to the
    host with the most free RAM, which this one often is, and the session's later tests expect
    theirs on the first agent (``compute_host``). Reach its port forwards from inside with
    ``tests.support.netlab.inside(agent.netns)``."""
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    service = admin.hypervisor(bridged_host.host)["service"]["id"]

    def set_status(body: dict) -> None:
        response = admin.put(f"/os-services/{service}", body, "2.53")
        assert response.status_code == 200, response.text

    set_status({"status": "enabled"})
    try:
        yield bridged_host
    finally:
        set_status({"status": "disabled", "disabled_reason": "only for the tests that ask for it"})


@pytest.fixture(scope="session")
def ssh_guest() -> LinuxGuest:
    """The Linux test guest with its SSH server. Session-scoped, so built before any test's fixtures
    move the test into a network namespace (``lab``), where apt-get could not reach the archive."""
    require("apt-get")
    require("dpkg-deb")
    return build_guest(TEST_ROOT / "linux-guest", ssh=True)


@pytest.fixture(scope="session")
def openstack_demo(live_stack, credentials) -> OpenStackCLI:
    return OpenStackCLI(live_stack.url, "demo", credentials["demo"], "demo")


@pytest.fixture(scope="session")
def openstack_admin(live_stack, credentials) -> OpenStackCLI:
    return OpenStackCLI(live_stack.url, "admin", credentials["admin"], "admin")


@pytest.fixture(scope="session")
def guest_image(openstack_demo, ssh_guest, tmp_path_factory) -> str:
    """The Linux test guest as demo's cloud image: an AMI whose kernel and ramdisk (AKI, ARI) and
    command line make it read its metadata as cloud-init does (the config drive, else the metadata
    service), with ``os_admin_user=root`` as its login. Every part is uploaded with
    `openstack image create --file`; returns the AMI's id."""
    cli, tag = openstack_demo, uuid.uuid4().hex[:6]
    kernel = cli.json(
        "image", "create", "--disk-format", "aki", "--container-format", "aki",
        "--file", str(ssh_guest.kernel), f"guest-kernel-{tag}",
    )  # fmt: skip
    ramdisk = cli.json(
        "image", "create", "--disk-format", "ari", "--container-format", "ari",
        "--file", str(ssh_guest.initrd), f"guest-ramdisk-{tag}",
    )  # fmt: skip
    root = tmp_path_factory.mktemp("ami") / "root.img"
    root.write_bytes(bytes(1024 * 1024))
    cmdline = f"{BASE_CMDLINE} {guest_cmdline(cloudinit=True)}"
    ami = cli.json(
        "image", "create", "--disk-format", "ami", "--container-format", "ami", "--file", str(root),
        "--property", f"kernel_id={kernel['id']}", "--property", f"ramdisk_id={ramdisk['id']}",
        "--property", f"os_command_line={cmdline}", "--property", "os_admin_user=root", f"guest-{tag}",
    )  # fmt: skip
    assert ami["status"] == "active"
    return ami["id"]


@pytest.fixture(scope="session")
def guest_flavor(openstack_admin):
    """A public flavor the Linux test guest boots with (256 MB, 1 vCPU, 1 GB root); its name."""
    name = f"t.guest-{uuid.uuid4().hex[:6]}"
    flavor = openstack_admin.json("flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1", name)
    yield flavor["name"]
    openstack_admin.run("flavor", "delete", flavor["id"])


@pytest.fixture(scope="session")
def marker_image(live_stack, credentials, tmp_path_factory) -> dict:
    """The tiny bootable marker image, uploaded through the image API by demo, and a test
    flavor (128 MB, 1 vCPU, 1 GB root, 1 GB ephemeral) made by admin."""
    from tests.instances.bootimage import build_boot_image

    marker = f"STRATUS-MARKER {uuid.uuid4().hex[:12]}"
    path = build_boot_image(tmp_path_factory.mktemp("marker") / "marker.raw", marker)
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    image_id = demo.upload_image("marker", path)
    return {"id": image_id, "marker": marker, "flavor": admin.ensure_flavor(), "path": path}
