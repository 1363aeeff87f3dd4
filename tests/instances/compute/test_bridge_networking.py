"""The compute agent plugs instances into their project network's bridge and takes them out again.

The agent's manager runs in this process on the fake driver, with real host networking (bridges,
taps, dnsmasq, nftables) inside a throwaway network namespace (the ``lab`` fixture). Real guests on
such bridges are tested in tests/instances/virt/test_guest_networking.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from instances.compute import agent, networking
from instances.compute.manager import ComputeManager
from instances.models import Instance
from instances.virt.fake import FakeDriver
from instances.virt.hostnet import HostNetwork, bridge_name, tap_name
from tests.instances.compute.conftest import launch
from tests.instances.conftest import Deliver
from tests.instances.dashboard_support import browser_for
from tests.support.netlab import run


def delete(world, manager, instance: Instance, capture, who: str) -> None:
    with capture() as callbacks:
        assert world[who].delete(f"/servers/{instance.pk}").status_code == 204
    Deliver(manager)(callbacks)


def links() -> dict[str, str]:
    """Interface name → the bridge it is plugged into ("" for none)."""
    out = {}
    for line in run("ip", "-o", "link", "show").splitlines():
        name = line.split(": ")[1].split("@")[0]
        out[name] = line.split(" master ")[1].split()[0] if " master " in line else ""
    return out


def dnsmasq_hosts(bridge: str) -> set[str]:
    """The --dhcp-host entries of the dnsmasq serving ``bridge`` in this test's network namespace
    (other tests' hosts, in their own namespaces, may have bridges of the same name)."""
    here = os.readlink("/proc/thread-self/ns/net")
    for pid in run("pgrep", "-x", "dnsmasq").split():
        try:
            if os.readlink(f"/proc/{pid}/ns/net") != here:
                continue
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:  # it ended meanwhile
            continue
        if f"--interface={bridge}" in argv:
            return {a.removeprefix("--dhcp-host=") for a in argv if a.startswith("--dhcp-host=")}
    return set()


def test_instances_get_taps_on_their_projects_bridge_and_dhcp_entries_until_deleted(
    world, bridged, image, tiny, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    web = launch(world, bridged, image, tiny, capture, "member", "Web 1")
    db = launch(world, bridged, image, tiny, capture, "member", "db")
    away = launch(world, bridged, image, tiny, capture, "outsider", "away")
    assert web.network == db.network != away.network
    home_bridge = bridge_name(networking.net_id(web.network))
    away_bridge = bridge_name(networking.net_id(away.network))
    now = links()
    assert now[tap_name(str(web.pk))] == now[tap_name(str(db.pk))] == home_bridge
    assert now[tap_name(str(away.pk))] == away_bridge
    assert f"{web.network.gateway}/24" in run("ip", "-br", "addr", "show", home_bridge)
    assert dnsmasq_hosts(home_bridge) == {
        f"{web.mac_address},{web.address},web-1",
        f"{db.mac_address},{db.address},db",
    }
    spec = bridged.driver.dirs.load_spec(str(web.pk))
    assert spec.network.tap == tap_name(str(web.pk)) and spec.network.address == web.address

    delete(world, bridged, web, capture, "member")
    assert tap_name(str(web.pk)) not in links()
    assert dnsmasq_hosts(home_bridge) == {f"{db.mac_address},{db.address},db"}
    delete(world, bridged, db, capture, "member")
    assert home_bridge not in links() and dnsmasq_hosts(home_bridge) == set()
    assert links()[away_bridge] == "" and dnsmasq_hosts(away_bridge)  # the other project's stays


def test_a_restarted_agent_replugs_its_instances_and_drops_what_is_not_its_own(
    world, bridged, image, tiny, django_capture_on_commit_callbacks
):
    web = launch(world, bridged, image, tiny, django_capture_on_commit_callbacks, "member", "web")
    host = bridged.networks.host
    host.ensure_network("net-stale", "10.99.9.0/24", "10.99.9.1")
    host.ensure_port("net-stale", "gone-instance", "fa:16:3e:99:99:99")
    run("ip", "link", "del", tap_name(str(web.pk)))  # as after a host reboot
    restarted = networking.InstanceNetworks("bridged", HostNetwork(host.state_dir))
    assert restarted.sync({str(web.pk)}) == {"ports": 1, "networks": 1}
    assert links()[tap_name(str(web.pk))] == bridge_name(networking.net_id(web.network))
    assert bridge_name("net-stale") not in links() and tap_name("gone-instance") not in links()


def test_an_agent_leaves_networking_only_for_guests_that_run_and_plugs_one_in_when_it_starts(
    world, bridged, image, tiny, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    web = launch(world, bridged, image, tiny, capture, "member", "web")
    db = launch(world, bridged, image, tiny, capture, "member", "db")
    with capture() as callbacks:
        assert world["member"].post(f"/servers/{db.pk}/action", {"os-stop": None}).status_code == 202
    Deliver(bridged)(callbacks)
    bridged.sync_networks()  # as when the agent stops: the stopped one has no tap left
    assert tap_name(str(web.pk)) in links() and tap_name(str(db.pk)) not in links()
    with capture() as callbacks:
        world["member"].post(f"/servers/{web.pk}/action", {"os-stop": None})
    Deliver(bridged)(callbacks)
    bridged.sync_networks()  # nothing runs: nothing of ours stays on the host
    assert not [name for name in links() if name.startswith(("stbr-", "sttap-"))]
    assert "stratus" not in run("nft", "list", "tables")
    with capture() as callbacks:
        world["member"].post(f"/servers/{db.pk}/action", {"os-start": None})
    Deliver(bridged)(callbacks)  # starting plugs it in again, before its guest starts
    assert links()[tap_name(str(db.pk))] == bridge_name(networking.net_id(db.network))


def test_the_hypervisors_page_says_how_a_host_networks_its_instances(world, bridged, tmp_path):
    user_state = tmp_path / "state-user"
    network, mode = networking.choose(user_state, "user")
    assert network is None
    agent.register(ComputeManager("plain", FakeDriver(user_state), user_state, network_mode=mode), "nova")
    page = browser_for("admin").get("/admin/hypervisors/").content.decode()
    bridged_line = (
        page.split('data-host="bridged"')[1].split('data-testid="networking"')[1].split("</div>")[0]
    )
    plain_line = page.split('data-host="plain"')[1].split('data-testid="networking"')[1].split("</div>")[0]
    assert "Bridges" in bridged_line
    assert "User networking" in plain_line and "STRATUS_COMPUTE_NETWORKING=user" in plain_line
    shown = world["admin"].get("/os-hypervisors/detail", "2.28").json()["hypervisors"]
    assert {h["hypervisor_hostname"]: h["cpu_info"]["networking"] for h in shown} == {
        "bridged": "bridge",
        "plain": "user",
    }
