"""Instances, the log of actions on them and project networks."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from dashboard.models import Project, ProjectOwnedQuerySet
from flavors.models import Flavor
from instances.choices import PowerState, TaskState, VmState, api_status
from instances.models.hosts import ComputeHost


class ProjectNetwork(models.Model):
    """A project's private network: one /24 out of STRATUS_NETWORK_POOL, gateway at .1."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="compute_network")
    name = models.CharField(max_length=64, default="private")
    cidr = models.CharField(max_length=43, unique=True)
    gateway = models.GenericIPAddressField(protocol="IPv4")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cidr"]

    def __str__(self) -> str:
        return f"{self.name} {self.cidr}"


def default_security_groups() -> list[str]:
    """Every instance is in its project's "default" group: on the project's private network,
    reachable from beyond its host only through its port forwards. There are no other groups."""
    return ["default"]


class InstanceQuerySet(ProjectOwnedQuerySet):
    def for_api(self) -> InstanceQuerySet:
        return self.select_related("host", "network", "flavor")

    def with_tags(self) -> InstanceQuerySet:
        """The tags of every row in one extra query (the server bodies carry them from 2.26)."""
        return self.prefetch_related("tags")

    def with_volumes(self) -> InstanceQuerySet:
        """The attached volumes (os-extended-volumes) and the port forwards (public addresses), in one
        extra query each for all the rows."""
        return self.prefetch_related("volume_attachments", "port_forwards")


class Instance(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="instances")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # No foreign key: an image may be deleted while instances launched from it live on.
    image_id = models.CharField(max_length=64, blank=True, default="")
    image_properties = models.JSONField(default=dict, blank=True)
    # The image's disk format at launch (Nova keeps it in system_metadata): an ISO is attached as a
    # CD-ROM on every start, so this must outlive the image.
    image_disk_format = models.CharField(max_length=16, blank=True, default="")
    flavor = models.ForeignKey(Flavor, null=True, on_delete=models.SET_NULL, related_name="instances")
    # The instance's own copy of its flavor (Flavor.sizes()): deleting the flavor changes nothing.
    flavor_ref = models.CharField(max_length=255)
    flavor_name = models.CharField(max_length=255)
    vcpus = models.PositiveIntegerField()
    memory_mb = models.PositiveIntegerField()
    root_gb = models.PositiveIntegerField()
    ephemeral_gb = models.PositiveIntegerField(default=0)
    swap_mb = models.PositiveIntegerField(default=0)
    rxtx_factor = models.FloatField(default=1.0)
    flavor_extra_specs = models.JSONField(default=dict, blank=True)
    host = models.ForeignKey(
        ComputeHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="instances"
    )
    availability_zone = models.CharField(max_length=255, blank=True, default="")
    vm_state = models.CharField(max_length=32, choices=VmState.choices, default=VmState.BUILDING)
    task_state = models.CharField(
        max_length=32, choices=TaskState.choices, blank=True, default=TaskState.SCHEDULING
    )
    power_state = models.IntegerField(choices=PowerState.choices, default=PowerState.NOSTATE)
    # When task_state last changed: the stuck-task sweeper measures from here.
    task_started_at = models.DateTimeField(null=True, blank=True)
    fault_code = models.IntegerField(null=True, blank=True)
    fault_message = models.CharField(max_length=255, blank=True, default="")
    fault_details = models.TextField(blank=True, default="")
    fault_at = models.DateTimeField(null=True, blank=True)
    network = models.ForeignKey(
        ProjectNetwork, null=True, blank=True, on_delete=models.SET_NULL, related_name="instances"
    )
    address = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    # Nova's accessIPv4/accessIPv6: addresses the user records for reaching the server (a NAT or a
    # load balancer in front of it); kept and shown, never configured anywhere.
    access_ip_v4 = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    access_ip_v6 = models.GenericIPAddressField(protocol="IPv6", null=True, blank=True)
    mac_address = models.CharField(max_length=17, blank=True, default="")
    # Nova's OS-DCF:diskConfig AUTO (True) or MANUAL. The root disk is grown to the flavor's size
    # either way; AUTO says the guest grows its partition and filesystem into it (cloud-init's
    # growpart), as Nova leaves it to the guest for qcow2 root disks.
    auto_disk_config = models.BooleanField(default=False)
    # The guest's host name asked for at create or update (Nova 2.90+); "" derives it from the name.
    hostname = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    # What reaches the guest (metadata service, config drive): the key pair as it was at launch, the
    # user data as the client sent it (base64), and whether it asked for a config drive.
    key_name = models.CharField(max_length=255, blank=True, default="")
    key_data = models.TextField(blank=True, default="")
    user_data = models.TextField(blank=True, default="")
    config_drive = models.BooleanField(default=False)
    # Nova's system metadata of a shelved instance: the snapshot unshelve boots from, and when it
    # was shelved (offloading waits COMPUTE_SHELVED_OFFLOAD_TIME from here).
    shelved_image_id = models.CharField(max_length=64, blank=True, default="")
    shelved_at = models.DateTimeField(null=True, blank=True)
    security_groups = models.JSONField(default=default_security_groups, blank=True)
    # Nova's lock: who locked it ("owner": its project, "admin": an administrator of another
    # project) decides who may unlock it without the override rule.
    locked = models.BooleanField(default=False)
    locked_by = models.CharField(max_length=8, blank=True, default="")
    locked_reason = models.CharField(max_length=255, blank=True, default="")
    reservation_id = models.CharField(max_length=32, blank=True, default="")
    launch_index = models.PositiveIntegerField(default=0)
    # A resize in progress or waiting for confirmation: the sizes (Flavor.sizes() and root_gb) and
    # vm_state before it, the host that keeps the old claim and disk until confirm, and the host
    # claimed for the new flavor. Empty / null otherwise.
    old_flavor = models.JSONField(default=dict, blank=True)
    resize_source = models.ForeignKey(
        ComputeHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resize_target = models.ForeignKey(
        ComputeHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A live migration in progress (task state migrating): the host it goes to, which holds a claim
    # for the instance's sizes until the move ends either way. Null otherwise.
    live_migration_target = models.ForeignKey(
        ComputeHost, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set by the target (a conditional update) before it lets the copied guest run: from then on
    # the migration is no longer given up from elsewhere, only finished (or failed by the target).
    live_migration_finishing = models.BooleanField(default=False)
    # When the instance reached VERIFY_RESIZE: the auto-confirm window counts from here.
    resized_at = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InstanceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "deleted", "created_at"], name="instance_project_alive"),
            models.Index(fields=["host", "deleted"], name="instance_host_alive"),
            models.Index(fields=["vm_state", "task_state"], name="instance_states"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "address"],
                condition=Q(deleted=False),
                name="instance_address_unique",
                violation_error_message="This address is already in use on the network.",
            ),
            models.CheckConstraint(
                condition=Q(deleted=False) | Q(vm_state=VmState.DELETED),
                name="instance_deleted_state",
                violation_error_message="A deleted instance has vm_state deleted.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def status(self) -> str:
        return api_status(self.vm_state, self.task_state)

    @property
    def boots_from_iso(self) -> bool:
        return self.image_disk_format == "iso"

    @property
    def tag_names(self) -> list[str]:
        """The tags, sorted; reads the prefetched ``tags`` when the list prefetched them."""
        return sorted(t.tag for t in self.tags.all())


class InstanceTag(models.Model):
    """A tag of an instance (Nova's server tags, 2.26): a short string without ',' or '/'."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=60)

    class Meta:
        ordering = ["tag"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "tag"],
                name="instance_tag_unique",
                violation_error_message="The instance already has this tag.",
            ),
        ]

    def __str__(self) -> str:
        return self.tag


class InstanceAction(models.Model):
    """Who did what to an instance and when (Nova's os-instance-actions)."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="actions")
    action = models.CharField(max_length=32)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    project_id = models.CharField(max_length=64, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    start_time = models.DateTimeField(auto_now_add=True)
    finish_time = models.DateTimeField(null=True, blank=True)
    # Nova's updated_at (2.58 changes-since): when the action or one of its events last changed.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    result = models.CharField(max_length=16, blank=True, default="")
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-start_time", "-id"]
        indexes = [models.Index(fields=["instance", "request_id"], name="instance_action_request")]

    def __str__(self) -> str:
        return f"{self.action} on {self.instance_id}"


class InstanceActionEvent(models.Model):
    """One piece of work of an action on the compute host (Nova's instance action events):
    ``compute_stop_instance`` and so on, with when it started and ended and how."""

    action = models.ForeignKey(InstanceAction, on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=64)
    host = models.CharField(max_length=255, blank=True, default="")
    start_time = models.DateTimeField()
    finish_time = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=16, blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    details = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["start_time", "id"]

    def __str__(self) -> str:
        return f"{self.event} of {self.action_id}"


class PortForward(models.Model):
    """A port of the instance's host forwarded to a port of the instance (22 by default): the
    public endpoint of an instance on a private network. The host's nftables carry it while the
    row exists; deleting the instance deletes it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="port_forwards")
    host = models.ForeignKey(ComputeHost, on_delete=models.CASCADE, related_name="port_forwards")
    bind_address = models.GenericIPAddressField(protocol="IPv4")
    host_port = models.PositiveIntegerField()
    guest_port = models.PositiveIntegerField(default=22)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host_port"]
        constraints = [
            models.UniqueConstraint(
                fields=["host", "host_port"],
                name="port_forward_host_port_unique",
                violation_error_message="This host port is already forwarded.",
            ),
            models.UniqueConstraint(
                fields=["instance", "guest_port"],
                name="port_forward_guest_port_unique",
                violation_error_message="This port of the instance is already forwarded.",
            ),
            models.CheckConstraint(
                condition=Q(host_port__gte=1, host_port__lte=65535, guest_port__gte=1, guest_port__lte=65535),
                name="port_forward_ports_valid",
                violation_error_message="Ports are 1 to 65535.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bind_address}:{self.host_port} → {self.instance_id}:{self.guest_port}"

    @property
    def endpoint(self) -> str:
        """Where to connect: the operator's public name for the host, or the bind address."""
        return settings.PORT_FORWARD_PUBLIC_HOST or self.bind_address

    @property
    def ssh(self) -> str:
        """The command line that reaches the guest's SSH server (login name as the image asks)."""
        user = (self.instance.image_properties or {}).get("os_admin_user") or "USER"
        return f"ssh -p {self.host_port} {user}@{self.endpoint}"


class InstanceSizeChange(models.Model):
    """A change of an instance's sizes (a resize begins, or one is rolled back), with the sizes
    before and after, so that usage reports charge each period of the instance's life with the
    sizes it had then. Keys of ``before`` and ``after``: flavor_name, vcpus, memory_mb, local_gb."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="size_changes")
    at = models.DateTimeField()
    before = models.JSONField()
    after = models.JSONField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["instance", "at"], name="instance_size_change_at")]

    def __str__(self) -> str:
        return f"{self.instance_id} at {self.at:%Y-%m-%d %H:%M}: {self.before} → {self.after}"

    @staticmethod
    def sizes(flavor_name: str, vcpus: int, memory_mb: int, root_gb: int, ephemeral_gb: int) -> dict:
        return {
            "flavor_name": flavor_name,
            "vcpus": vcpus,
            "memory_mb": memory_mb,
            "local_gb": root_gb + ephemeral_gb,
        }

    @classmethod
    def of(cls, instance: Instance) -> dict:
        """The sizes the instance runs with now."""
        return cls.sizes(
            instance.flavor_name, instance.vcpus, instance.memory_mb, instance.root_gb, instance.ephemeral_gb
        )

    @classmethod
    def record(cls, instance_id, at, before: dict, after: dict) -> None:
        if before != after:
            cls.objects.create(instance_id=instance_id, at=at, before=before, after=after)
