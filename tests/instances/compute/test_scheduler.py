"""Scheduler filters, spreading, and claims that never overcommit a host."""

from __future__ import annotations

import pytest
from django.utils import timezone

from instances.compute import scheduler
from instances.models import ComputeHost


def add_host(name, *, zone="nova", vcpus=4, memory_mb=2048, disk_gb=20, **fields) -> ComputeHost:
    values = {
        "availability_zone": zone,
        "hypervisor_type": "qemu",
        "arch": "x86_64",
        "uefi": False,
        "vcpus": vcpus,
        "memory_mb": memory_mb,
        "local_gb": disk_gb,
        "last_heartbeat": timezone.now(),
        "cpu_allocation_ratio": 1.0,
    }
    values.update(fields)
    return ComputeHost.objects.create(name=name, **values)


def request(**fields) -> scheduler.Request:
    values = {"vcpus": 1, "memory_mb": 512, "disk_gb": 1, "image_properties": {}}
    values.update(fields)
    return scheduler.Request(**values)


def names(req) -> list[str]:
    return [h.name for h in scheduler.candidates(req)[0]]


@pytest.mark.django_db
def test_it_skips_hosts_that_are_down_or_disabled():
    add_host("up")
    add_host("down", last_heartbeat=timezone.now() - timezone.timedelta(hours=1))
    add_host("off", enabled=False)
    assert names(request()) == ["up"]


@pytest.mark.django_db
def test_it_filters_on_ram_disk_and_vcpus_with_ratios():
    add_host("small", memory_mb=256)
    add_host("few-cpus", vcpus=1)
    add_host("overcommitted", vcpus=1, cpu_allocation_ratio=4.0)
    add_host("tiny-disk", disk_gb=1)
    assert names(request(vcpus=2, disk_gb=2)) == ["overcommitted"]


@pytest.mark.django_db
def test_image_properties_pick_architecture_hypervisor_and_uefi():
    add_host("x86")
    add_host("arm", arch="aarch64", uefi=True)
    add_host("kvm", hypervisor_type="kvm")
    assert names(request(image_properties={"hw_architecture": "aarch64"})) == ["arm"]
    assert names(request(image_properties={"architecture": "aarch64"})) == ["arm"]
    assert names(request(image_properties={"img_hv_type": "kvm"})) == ["kvm"]
    assert names(request(image_properties={"hw_firmware_type": "uefi"})) == ["arm"]
    hosts, reason = scheduler.candidates(request(image_properties={"hw_architecture": "s390x"}))
    assert hosts == [] and "architecture s390x" in reason


@pytest.mark.django_db
def test_zones_and_forced_hosts():
    add_host("a1", zone="az1")
    add_host("b1", zone="az2")
    assert names(request(availability_zone="az2")) == ["b1"]
    assert names(request(force_host="a1")) == ["a1"]
    assert scheduler.candidates(request(force_host="nope"))[1] == "Compute host nope could not be found."


@pytest.mark.django_db
def test_it_spreads_by_free_ram():
    add_host("h1", memory_mb=4096)
    add_host("h2", memory_mb=4096)
    placed = [scheduler.select_and_claim(request(memory_mb=1024)).name for _ in range(4)]
    assert placed == ["h1", "h2", "h1", "h2"]


@pytest.mark.django_db
def test_a_claim_fails_when_a_parallel_launch_filled_the_host_and_the_next_host_is_taken():
    full, spare = add_host("h1", memory_mb=4096), add_host("h2", memory_mb=1024)
    hosts, _ = scheduler.candidates(request(memory_mb=1024))
    assert [h.name for h in hosts] == ["h1", "h2"]
    # Between the filter and the claim, another launch takes all of h1.
    ComputeHost.objects.filter(pk=full.pk).update(memory_mb_used=4096)
    assert scheduler.claim(hosts[0], request(memory_mb=1024)) is False
    assert scheduler.select_and_claim(request(memory_mb=1024)).name == "h2"
    with pytest.raises(scheduler.NoValidHost, match="No valid host was found"):
        scheduler.select_and_claim(request(memory_mb=1024))
    spare.refresh_from_db()
    assert spare.memory_mb_used == 1024
