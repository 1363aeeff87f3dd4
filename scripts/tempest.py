"""Run OpenStack's Tempest API tests against Stratus and print pass/fail/skip counts per area.

    make tempest                      # private stack, every area
    make tempest AREAS="image"        # one area (image, compute, volume, migration)
    make tempest URL=http://H ADMIN_PASSWORD=...   # a stack that already runs

Tempest 47.0.0 is installed from PyPI into its own venv (.tempest-venv). Without a URL a private
stack is started as the test suite starts one (tests/support/processes.py LiveStack) with two
compute agents using QEMU TCG (the migration tests need two hosts; tempest.conf's min_compute_nodes
is the number of compute hosts up). The script uploads two small bootable images (guests that
print a line to their console about twice a second), creates two flavors, writes tempest.conf from
what the server's version documents and catalog say, then runs ``tempest run`` per area with two
workers and counts the results from its subunit stream (scripts/tempest_results.py). Everything
lands in var/tempest/.

Run with the project's venv: ``.venv/bin/python scripts/tempest.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instances.virt.bootsector import build_ticker_image  # noqa: E402
from tests.support.processes import ADMIN_PASSWORD, LiveStack  # noqa: E402

TEMPEST_VERSION = "47.0.0"
TEMPEST_VENV = ROOT / ".tempest-venv"
WORK = ROOT / "var" / "tempest"

AREAS = {
    "image": r"^tempest\.api\.image\.v2\.",
    # servers (server groups, availability zones and the rest of the servers API), flavors, key
    # pairs, limits, quotas, availability zones and hypervisors, with their admin tests
    "compute": (
        r"^tempest\.api\.compute\.(servers|flavors|keypairs|limits|test_quotas|"
        r"admin\.(test_quotas|test_availability_zone|test_hypervisor|test_flavors|test_keypairs_v210))"
    ),
    # the Block Storage features Stratus has: volumes (create, clone, from an image, list, show,
    # update, metadata, extend, bootable, upload to an image), quotas, limits, versions, zones.
    # Not selected, because the APIs do not exist: volume types and their extra specs, QoS,
    # snapshots, backups, transfers, groups, services, hosts, pools, backend capabilities, user
    # messages, quota classes, manage/unmanage, retype, extensions.
    "volume": (
        r"^tempest\.api\.volume\.(test_volumes_(get|list|negative|extend|clone|clone_negative|actions)\.|"
        r"test_volume_metadata|test_image_metadata|test_volume_absolute_limits|test_versions|"
        r"test_availability_zone|admin\.(test_volume_quotas|test_volume_quotas_negative|test_volumes_list|"
        r"test_volumes_actions)\.)"
    ),
    # moving servers between hosts: cold migration (confirm, revert), live migration with the disks
    # copied, and their negative tests; Tempest runs them when it sees two compute hosts.
    "migration": (
        r"^tempest\.api\.compute\.admin\.(test_migrations|test_live_migration|test_live_migration_negative|"
        r"test_servers_on_multinodes)\."
    ),
}

# Features that Tempest would test but Stratus does not have, each with the reason it is off.
# Everything Stratus claims stays on (Tempest's defaults or set true below).
SWITCHED_OFF = {
    ("service_available", "neutron"): "no Networking service: guests get QEMU user or bridge networking",
    ("service_available", "swift"): "no Object Storage service",
    ("service_available", "horizon"): "the dashboard is Stratus' own, not Horizon",
    ("identity-feature-enabled", "trust"): "Keystone trusts (OS-TRUST) are not implemented",
    ("identity-feature-enabled", "access_rules"): "application credential access rules are not implemented",
    ("identity-feature-enabled", "api_v2_admin"): "Keystone v2 does not exist here (v3 only)",
    ("compute-feature-enabled", "change_password"): "no changePassword action (no guest agent)",
    ("compute-feature-enabled", "interface_attach"): "no os-interface: there are no Neutron ports",
    ("compute-feature-enabled", "attach_encrypted_volume"): "no volume encryption",
    ("compute-feature-enabled", "spice_console"): "only the VNC console exists",
    ("compute-feature-enabled", "serial_console"): "only the VNC console exists",
    (
        "compute-feature-enabled",
        "stable_rescue",
    ): "rescue boots the rescue image only (no stable device rescue)",
    (
        "compute-feature-enabled",
        "shelve_migrate",
    ): "read only by a scenario test that logs in to the guest over SSH (validation is off)",
    ("compute-feature-enabled", "swap_volume"): "no volume swap (os-volume_attachments PUT)",
    ("compute-feature-enabled", "volume_multiattach"): "volumes attach to one server only",
    ("image-feature-enabled", "manage_locations"): (
        "no PATCH of /locations (Glance's show_multiple_locations, off by default there); "
        "the 2.17 locations API is there"
    ),
    ("image-feature-enabled", "image_conversion"): "import does not convert to another format on request",
    (
        "image-feature-enabled",
        "http_store_enabled",
    ): "the HTTP store is read-only locations, not a test store",
    ("image-feature-enabled", "store_weight_enabled"): "one store, no store weights",
    ("volume-feature-enabled", "backup"): "no volume backups API",
    ("volume-feature-enabled", "snapshot"): "no volume snapshots API",
    ("volume-feature-enabled", "manage_volume"): "no manage/unmanage of existing volumes",
    ("volume-feature-enabled", "manage_snapshot"): "no snapshots",
    ("volume-feature-enabled", "extend_volume_with_snapshot"): "no snapshots",
    ("volume-feature-enabled", "extend_attached_volume"): "volumes are extended while detached only",
}


def log(message: str) -> None:
    print(f"[tempest] {message}", flush=True)


def ensure_tempest() -> Path:
    tempest = TEMPEST_VENV / "bin" / "tempest"
    marker = TEMPEST_VENV / f".tempest-{TEMPEST_VERSION}"
    if not marker.exists():
        log(f"installing tempest=={TEMPEST_VERSION} into {TEMPEST_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(TEMPEST_VENV)], check=True)
        pip = [str(TEMPEST_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, f"tempest=={TEMPEST_VERSION}"], check=True)
        marker.touch()
    return tempest


class Client:
    """Just enough of the APIs to prepare a cloud for Tempest, as the admin."""

    def __init__(self, url: str, password: str):
        self.url = url.rstrip("/")
        self.password = password
        self.token, self.catalog = self._authenticate()

    def _authenticate(self) -> tuple[str, list]:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "domain": {"name": "Default"}, "password": self.password}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
            }
        }
        request = urllib.request.Request(
            f"{self.url}/identity/v3/auth/tokens",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.headers["X-Subject-Token"], json.load(response)["token"]["catalog"]

    def endpoint(self, service_type: str) -> str:
        for service in self.catalog:
            if service["type"] == service_type:
                for endpoint in service["endpoints"]:
                    if endpoint["interface"] == "public":
                        return endpoint["url"].rstrip("/")
        raise RuntimeError(f"the catalog has no {service_type} service")

    def region(self) -> str:
        return self.catalog[0]["endpoints"][0].get("region_id") or "RegionOne"

    def call(
        self, method: str, url: str, body=None, *, data: bytes | None = None, headers: dict | None = None
    ):
        headers = {"X-Auth-Token": self.token, **(headers or {})}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 300:
                payload = exc.read()
            else:
                raise RuntimeError(f"{method} {url}: {exc.code} {exc.read()[:500]!r}") from exc
        return json.loads(payload) if payload else None


def upload_image(client: Client, name: str, directory: Path) -> str:
    glance = client.endpoint("image")
    existing = client.call("GET", f"{glance}/v2/images?name={name}")["images"]
    active = [image for image in existing if image["status"] == "active"]
    if active:
        return active[0]["id"]
    # A guest that keeps writing lines to its console, as a real one's boot log does (the console
    # output tests count lines), idle between them.
    path = build_ticker_image(directory / f"{name}.raw", f"{name} booted")
    image = client.call(
        "POST",
        f"{glance}/v2/images",
        {"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "public"},
    )
    client.call(
        "PUT",
        f"{glance}/v2/images/{image['id']}/file",
        data=path.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    for _ in range(120):
        if client.call("GET", f"{glance}/v2/images/{image['id']}")["status"] == "active":
            return image["id"]
        time.sleep(1)
    raise RuntimeError(f"image {name} did not become active")


def ensure_flavor(client: Client, name: str, ram: int) -> str:
    nova = client.endpoint("compute")
    for flavor in client.call("GET", f"{nova}/flavors/detail?is_public=None")["flavors"]:
        if flavor["name"] == name:
            return flavor["id"]
    body = {"flavor": {"name": name, "ram": ram, "vcpus": 1, "disk": 1, "id": None}}
    return client.call("POST", f"{nova}/flavors", body)["flavor"]["id"]


def version_range(client: Client, url: str) -> tuple[str, str]:
    """The min and max microversion of the CURRENT version in a root version document."""
    versions = client.call("GET", url)["versions"]
    versions = versions.get("values", versions) if isinstance(versions, dict) else versions
    current = [v for v in versions if v.get("status") == "CURRENT"][0]
    return current["min_version"], current["version"]


def compute_hosts(client: Client) -> int:
    """The compute hosts that take servers now (enabled and up): Tempest's min_compute_nodes."""
    services = client.call("GET", f"{client.endpoint('compute')}/os-services")["services"]
    up = [s for s in services if s["status"] == "enabled" and s["state"] == "up"]
    return sum(1 for s in up if s["binary"] == "nova-compute")


def write_config(client: Client, password: str, workspace: Path, accounts: Path | None) -> Path:
    images = [upload_image(client, name, workspace) for name in ("tempest-boot", "tempest-boot-alt")]
    flavors = [ensure_flavor(client, "tempest.nano", 64), ensure_flavor(client, "tempest.micro", 96)]
    compute_root = client.endpoint("compute").rsplit("/", 1)[0] + "/"
    volume_root = client.endpoint("volumev3").split("/v3")[0] + "/"
    compute_min, compute_max = version_range(client, compute_root)
    volume_min, volume_max = version_range(client, volume_root)
    region = client.region()
    conf: dict[str, dict[str, object]] = {
        "DEFAULT": {"log_file": str(workspace / "tempest.log"), "debug": "true"},
        "auth": {
            "admin_username": "admin",
            "admin_password": password,
            "admin_project_name": "admin",
            "admin_domain_name": "Default",
            "default_credentials_domain_name": "Default",
            "create_isolated_networks": "false",
        },
        "identity": {
            "uri_v3": f"{client.url}/identity/v3",
            "auth_version": "v3",
            "region": region,
            "v3_endpoint_type": "public",
        },
        "identity-feature-enabled": {"api_v2": "false"},
        "service_available": {"cinder": "true", "glance": "true", "nova": "true"},
        "compute": {
            "image_ref": images[0],
            "image_ref_alt": images[1],
            "flavor_ref": flavors[0],
            "flavor_ref_alt": flavors[1],
            "min_microversion": compute_min,
            "max_microversion": compute_max,
            "region": region,
            "build_timeout": "300",
            "min_compute_nodes": str(compute_hosts(client)),
            "hypervisor_type": "QEMU",
        },
        "compute-feature-enabled": {
            "resize": "true",
            "rescue": "true",
            "shelve": "true",
            "pause": "true",
            "suspend": "true",
            "snapshot": "true",
            "console_output": "true",
            "vnc_console": "true",
            "config_drive": "true",
            "metadata_service": "true",
            "disk_config": "true",
            "personality": "false",
            # os-migrateLive copies the local disks (hosts share no storage) and keeps attached volumes;
            # a server booted from a volume is not tried here.
            "live_migration": "true",
            "block_migration_for_live_migration": "true",
            "volume_backed_live_migration": "false",
        },
        "validation": {"run_validation": "false"},
        "image": {
            "region": region,
            "build_timeout": "120",
            "disk_formats": "raw,qcow2,vmdk,vdi,vhd,vhdx,iso,ami,ari,aki,ploop",
            "container_formats": "bare,ami,ari,aki,ovf,ova,docker,compressed",
        },
        "image-feature-enabled": {
            "import_image": "true",
            "os_glance_reserved": "true",
            "image_format_enforcement": "true",
            "do_secure_hash": "true",
        },
        "volume": {
            "catalog_type": "volumev3",
            "region": region,
            "min_microversion": volume_min,
            "max_microversion": volume_max,
            "volume_size": "1",
            "build_timeout": "120",
        },
        "volume-feature-enabled": {"clone": "true", "multi_backend": "false"},
        "oslo_concurrency": {"lock_path": str(workspace / "locks")},
    }
    if accounts is not None:
        conf["auth"].update(use_dynamic_credentials="false", test_accounts_file=str(accounts))
    else:
        conf["auth"]["use_dynamic_credentials"] = "true"
    for section, option in SWITCHED_OFF:
        conf.setdefault(section, {})[option] = "false"
    path = workspace / "etc" / "tempest.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for section, options in conf.items():
        lines.append(f"[{section}]")
        for option, value in options.items():
            reason = SWITCHED_OFF.get((section, option))
            if reason:
                lines.append(f"# off: {reason}")
            lines.append(f"{option} = {value}")
        lines.append("")
    path.write_text("\n".join(lines))
    log(f"wrote {path}")
    return path


def run_area(tempest: Path, workspace: Path, config: Path, area: str, workers: int) -> Path:
    stream = workspace / f"{area}.subunit"
    log(f"running {area}: {AREAS[area]} with {workers} workers")
    started = time.monotonic()
    with open(stream, "wb") as out, open(workspace / f"{area}.stderr", "wb") as err:
        subprocess.run(
            [
                str(tempest),
                "run",
                "--config-file",
                str(config),
                "--regex",
                AREAS[area],
                "--concurrency",
                str(workers),
                "--subunit",
            ],
            cwd=workspace,
            stdout=out,
            stderr=err,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("OS_")},
                "TEMPEST_CONFIG": str(config),
            },
        )
    log(f"{area} took {time.monotonic() - started:.0f} s")
    return stream


def report(streams: dict[str, Path]) -> None:
    parser = [str(TEMPEST_VENV / "bin" / "python"), str(ROOT / "scripts" / "tempest_results.py")]
    subprocess.run([*parser, *(f"{area}={path}" for area, path in streams.items())], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("STRATUS_TEMPEST_URL") or None)
    parser.add_argument("--admin-password", default=os.environ.get("STRATUS_ADMIN_PASSWORD", ADMIN_PASSWORD))
    parser.add_argument("--areas", default="image,compute,volume,migration")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--accounts", type=Path, help="pre-provisioned accounts.yaml instead of dynamic credentials"
    )
    parser.add_argument("--keep", action="store_true", help="leave the private stack running at the end")
    parser.add_argument(
        "--regex",
        action="append",
        default=[],
        metavar="AREA=REGEX",
        help="run REGEX instead of the area's own",
    )
    args = parser.parse_args()
    areas = [a.strip() for a in args.areas.replace(" ", ",").split(",") if a.strip()]
    unknown = sorted(set(areas) - set(AREAS))
    if unknown:
        parser.error(f"unknown areas {unknown}; choose from {sorted(AREAS)}")

    for override in args.regex:
        area, _, regex = override.partition("=")
        if area not in AREAS or not regex:
            parser.error(f"--regex wants AREA=REGEX with an area of {sorted(AREAS)}")
        AREAS[area] = regex
    tempest = ensure_tempest()
    WORK.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=time.strftime("run-%Y%m%d-%H%M%S-"), dir=WORK))
    stack = None
    try:
        if args.url is None:
            stack = LiveStack(workspace / f"stack-{uuid.uuid4().hex[:6]}")
            log(f"starting a private stack under {stack.root}")
            stack.start()
            for host in ("tempest1", "tempest2"):  # two hosts: the migration tests need them
                stack.start_compute_agent(host, env={"STRATUS_QEMU_ACCEL": "tcg"})
            url, password = stack.url, ADMIN_PASSWORD
            log(f"stack at {url}")
        else:
            url, password = args.url, args.admin_password
        client = Client(url, password)
        init = [
            str(tempest),
            "init",
            "--name",
            workspace.name,
            "--workspace-path",
            str(workspace / "workspace.yaml"),
        ]
        subprocess.run([*init, str(workspace / "tempest")], check=True, capture_output=True)
        config = write_config(client, password, workspace / "tempest", args.accounts)
        streams = {
            area: run_area(tempest, workspace / "tempest", config, area, args.workers) for area in areas
        }
        report(streams)
        log(f"results, logs and tempest.conf are in {workspace}")
    finally:
        if stack is not None and not args.keep:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
