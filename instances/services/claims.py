"""Which hosts an instance's resources are claimed on: its host, or during a resize the new
sizes on the target host and the old ones on the source host (see services.resize). Written once
for the delete that gives claims back and the agent's recount that repairs drift."""

from __future__ import annotations

from instances.compute import scheduler


def release_claims(row: dict) -> None:
    """A deleted instance's claims: during a resize the new sizes on the target host and the old
    ones on the source host; otherwise its sizes on its host. ``row`` has the Instance fields
    host_id, vcpus, memory_mb, root_gb, ephemeral_gb, old_flavor, resize_source_id, resize_target_id."""
    old = row.get("old_flavor") or {}
    new_on = row["resize_target_id"] if old and row["resize_target_id"] else row["host_id"]
    if new_on:
        scheduler.release(new_on, row["vcpus"], row["memory_mb"], row["root_gb"] + row["ephemeral_gb"])
    if row.get("live_migration_target_id"):  # a live migration's claim on the host it was going to
        scheduler.release(
            row["live_migration_target_id"],
            row["vcpus"],
            row["memory_mb"],
            row["root_gb"] + row["ephemeral_gb"],
        )
    if old and row["resize_target_id"] and row["resize_source_id"]:
        scheduler.release(
            row["resize_source_id"], old["vcpus"], old["memory_mb"], old["root_gb"] + old["ephemeral_gb"]
        )


def claims_by_host(instances) -> dict[int, tuple[int, int, int]]:
    """What each host's claims should add up to, from live instances (see release_claims)."""
    totals: dict[int, list[int]] = {}

    def add(host_id, vcpus, memory, disk):
        if host_id:
            t = totals.setdefault(host_id, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + vcpus, t[1] + memory, t[2] + disk

    for i in instances:
        old = i.old_flavor or {}
        in_resize = bool(old) and i.resize_target_id is not None
        add(i.resize_target_id if in_resize else i.host_id, i.vcpus, i.memory_mb, i.root_gb + i.ephemeral_gb)
        if in_resize:
            add(i.resize_source_id, old["vcpus"], old["memory_mb"], old["root_gb"] + old["ephemeral_gb"])
        add(i.live_migration_target_id, i.vcpus, i.memory_mb, i.root_gb + i.ephemeral_gb)
    return {k: tuple(v) for k, v in totals.items()}
