"""Policy defaults for servers, hosts, quotas and volumes, under Nova's and Cinder's rule names."""

from dashboard.policy import ADMIN, ADMIN_OR_MEMBER, ADMIN_OR_READER, RuleDefault

# --- servers (Nova's names and defaults) ---
SERVERS_INDEX = "os_compute_api:servers:index"
SERVERS_DETAIL = "os_compute_api:servers:detail"
SERVERS_ALL_TENANTS = "os_compute_api:servers:index:get_all_tenants"
SERVERS_DETAIL_ALL_TENANTS = "os_compute_api:servers:detail:get_all_tenants"
SERVERS_SHOW = "os_compute_api:servers:show"
SERVERS_SHOW_HOST_STATUS = "os_compute_api:servers:show:host_status"
SERVERS_CREATE = "os_compute_api:servers:create"
SERVERS_FORCED_HOST = "os_compute_api:servers:create:forced_host"
SERVERS_ZERO_DISK_FLAVOR = "os_compute_api:servers:create:zero_disk_flavor"
SERVERS_DELETE = "os_compute_api:servers:delete"
SERVERS_START = "os_compute_api:servers:start"
SERVERS_STOP = "os_compute_api:servers:stop"
SERVERS_REBOOT = "os_compute_api:servers:reboot"
SERVERS_CREATE_IMAGE = "os_compute_api:servers:create_image"
PAUSE = "os_compute_api:os-pause-server:pause"
UNPAUSE = "os_compute_api:os-pause-server:unpause"
SUSPEND = "os_compute_api:os-suspend-server:suspend"
RESUME = "os_compute_api:os-suspend-server:resume"
CONSOLE_OUTPUT = "os_compute_api:os-console-output"
REMOTE_CONSOLES = "os_compute_api:os-remote-consoles"
EXTENDED_SERVER_ATTRIBUTES = "os_compute_api:os-extended-server-attributes"
HYPERVISORS_LIST = "os_compute_api:os-hypervisors:list"
HYPERVISORS_DETAIL = "os_compute_api:os-hypervisors:list-detail"
HYPERVISORS_SHOW = "os_compute_api:os-hypervisors:show"
HYPERVISORS_UPTIME = "os_compute_api:os-hypervisors:uptime"
HYPERVISORS_STATISTICS = "os_compute_api:os-hypervisors:statistics"
HYPERVISORS_SEARCH = "os_compute_api:os-hypervisors:search"
HYPERVISORS_SERVERS = "os_compute_api:os-hypervisors:servers"
AZ_LIST = "os_compute_api:os-availability-zone:list"
AZ_DETAIL = "os_compute_api:os-availability-zone:detail"
QUOTA_SHOW = "os_compute_api:os-quota-sets:show"
QUOTA_UPDATE = "os_compute_api:os-quota-sets:update"
QUOTA_DEFAULTS = "os_compute_api:os-quota-sets:defaults"
QUOTA_DELETE = "os_compute_api:os-quota-sets:delete"
QUOTA_CLASS_SHOW = "os_compute_api:os-quota-class-sets:show"
QUOTA_CLASS_UPDATE = "os_compute_api:os-quota-class-sets:update"
LIMITS = "os_compute_api:limits"
SERVICES_UPDATE = "os_compute_api:os-services:update"
USAGE_LIST = "os_compute_api:os-simple-tenant-usage:list"
USAGE_SHOW = "os_compute_api:os-simple-tenant-usage:show"
MIGRATE_LIVE = "os_compute_api:os-migrate-server:migrate_live"

_ACT = "Project members act on their project's servers; administrators on any."
RULES = [
    RuleDefault(SERVERS_INDEX, ADMIN_OR_READER, "List the project's servers."),
    RuleDefault(SERVERS_DETAIL, ADMIN_OR_READER, "List the project's servers with details."),
    RuleDefault(SERVERS_ALL_TENANTS, ADMIN, "List servers of every project (all_tenants)."),
    RuleDefault(SERVERS_DETAIL_ALL_TENANTS, ADMIN, "List server details of every project."),
    RuleDefault(SERVERS_SHOW, ADMIN_OR_READER, "Show a server of the project."),
    RuleDefault(SERVERS_SHOW_HOST_STATUS, ADMIN, "See the status of a server's host."),
    RuleDefault(SERVERS_CREATE, ADMIN_OR_MEMBER, "Launch servers in the project."),
    RuleDefault(SERVERS_FORCED_HOST, ADMIN, "Pick the host with availability_zone=AZ:HOST."),
    RuleDefault(SERVERS_ZERO_DISK_FLAVOR, ADMIN, "Boot from an image with a flavor of zero root disk."),
    RuleDefault(SERVERS_DELETE, ADMIN_OR_MEMBER, f"Delete a server. {_ACT}"),
    RuleDefault(SERVERS_START, ADMIN_OR_MEMBER, f"Start a server. {_ACT}"),
    RuleDefault(SERVERS_STOP, ADMIN_OR_MEMBER, f"Stop a server. {_ACT}"),
    RuleDefault(SERVERS_REBOOT, ADMIN_OR_MEMBER, f"Reboot a server. {_ACT}"),
    RuleDefault(SERVERS_CREATE_IMAGE, ADMIN_OR_MEMBER, "Snapshot a server to an image of its project."),
    RuleDefault(PAUSE, ADMIN_OR_MEMBER, f"Pause a server. {_ACT}"),
    RuleDefault(UNPAUSE, ADMIN_OR_MEMBER, f"Unpause a server. {_ACT}"),
    RuleDefault(SUSPEND, ADMIN_OR_MEMBER, f"Suspend a server. {_ACT}"),
    RuleDefault(RESUME, ADMIN_OR_MEMBER, f"Resume a server. {_ACT}"),
    RuleDefault(CONSOLE_OUTPUT, ADMIN_OR_MEMBER, "Read a server's serial console output."),
    RuleDefault(REMOTE_CONSOLES, ADMIN_OR_MEMBER, "Open a server's console in the browser (noVNC)."),
    RuleDefault(EXTENDED_SERVER_ATTRIBUTES, ADMIN, "See OS-EXT-SRV-ATTR:* (the host) of servers."),
    RuleDefault(HYPERVISORS_LIST, ADMIN, "List compute hosts."),
    RuleDefault(MIGRATE_LIVE, ADMIN, "Live-migrate a server to another host (os-migrateLive)."),
    RuleDefault(HYPERVISORS_DETAIL, ADMIN, "List compute hosts with details."),
    RuleDefault(HYPERVISORS_SHOW, ADMIN, "Show a compute host."),
    RuleDefault(HYPERVISORS_UPTIME, ADMIN, "Show how long a compute host has been up (its uptime line)."),
    RuleDefault(HYPERVISORS_STATISTICS, ADMIN, "Sum the capacity of all compute hosts (before 2.88)."),
    RuleDefault(HYPERVISORS_SEARCH, ADMIN, "Find compute hosts by name (before 2.53)."),
    RuleDefault(HYPERVISORS_SERVERS, ADMIN, "List the servers of compute hosts found by name (before 2.53)."),
    RuleDefault(AZ_LIST, ADMIN_OR_READER, "List availability zones."),
    RuleDefault(AZ_DETAIL, ADMIN, "List availability zones with their hosts."),
    RuleDefault(QUOTA_SHOW, ADMIN_OR_READER, "Show a project's compute quotas."),
    RuleDefault(QUOTA_UPDATE, ADMIN, "Change a project's compute quotas."),
    RuleDefault(QUOTA_DEFAULTS, ADMIN_OR_READER, "Show the default compute quotas."),
    RuleDefault(QUOTA_CLASS_SHOW, ADMIN, "Show the default quotas (the 'default' quota class)."),
    RuleDefault(QUOTA_CLASS_UPDATE, ADMIN, "Change the default quotas (the 'default' quota class)."),
    RuleDefault(QUOTA_DELETE, ADMIN, "Put a project's compute quotas back to the defaults."),
    RuleDefault(LIMITS, ADMIN_OR_READER, "Show the project's limits and usage."),
    RuleDefault(SERVICES_UPDATE, ADMIN, "Enable or disable a compute host."),
    RuleDefault(USAGE_LIST, ADMIN, "Show every project's usage (os-simple-tenant-usage)."),
    RuleDefault(USAGE_SHOW, ADMIN_OR_READER, "Show a project's usage (os-simple-tenant-usage)."),
]

# --- edit, lock, metadata, tags and the action log of servers (Nova's names and defaults) ---
SERVERS_UPDATE = "os_compute_api:servers:update"
LOCK = "os_compute_api:os-lock-server:lock"
UNLOCK = "os_compute_api:os-lock-server:unlock"
UNLOCK_OVERRIDE = "os_compute_api:os-lock-server:unlock:unlock_override"
METADATA_INDEX = "os_compute_api:server-metadata:index"
METADATA_SHOW = "os_compute_api:server-metadata:show"
METADATA_CREATE = "os_compute_api:server-metadata:create"
METADATA_UPDATE = "os_compute_api:server-metadata:update"
METADATA_UPDATE_ALL = "os_compute_api:server-metadata:update_all"
METADATA_DELETE = "os_compute_api:server-metadata:delete"
TAGS_INDEX = "os_compute_api:os-server-tags:index"
TAGS_SHOW = "os_compute_api:os-server-tags:show"
TAGS_UPDATE = "os_compute_api:os-server-tags:update"
TAGS_UPDATE_ALL = "os_compute_api:os-server-tags:update_all"
TAGS_DELETE = "os_compute_api:os-server-tags:delete"
TAGS_DELETE_ALL = "os_compute_api:os-server-tags:delete_all"
ACTIONS_LIST = "os_compute_api:os-instance-actions:list"
ACTIONS_SHOW = "os_compute_api:os-instance-actions:show"
ACTIONS_EVENTS = "os_compute_api:os-instance-actions:events"
ACTIONS_EVENTS_DETAILS = "os_compute_api:os-instance-actions:events:details"

RULES += [
    RuleDefault(SERVERS_UPDATE, ADMIN_OR_MEMBER, f"Change a server's name or description. {_ACT}"),
    RuleDefault(LOCK, ADMIN_OR_MEMBER, "Lock a server: its actions are then refused to non-administrators."),
    RuleDefault(UNLOCK, ADMIN_OR_MEMBER, "Unlock a server locked by its own project."),
    RuleDefault(UNLOCK_OVERRIDE, ADMIN, "Unlock a server locked by an administrator."),
    RuleDefault(METADATA_INDEX, ADMIN_OR_READER, "List a server's metadata."),
    RuleDefault(METADATA_SHOW, ADMIN_OR_READER, "Show one metadata item of a server."),
    RuleDefault(METADATA_CREATE, ADMIN_OR_MEMBER, "Add or change metadata items of a server."),
    RuleDefault(METADATA_UPDATE, ADMIN_OR_MEMBER, "Set one metadata item of a server."),
    RuleDefault(METADATA_UPDATE_ALL, ADMIN_OR_MEMBER, "Replace all the metadata of a server."),
    RuleDefault(METADATA_DELETE, ADMIN_OR_MEMBER, "Delete a metadata item of a server."),
    RuleDefault(TAGS_INDEX, ADMIN_OR_READER, "List a server's tags."),
    RuleDefault(TAGS_SHOW, ADMIN_OR_READER, "Check whether a server has a tag."),
    RuleDefault(TAGS_UPDATE, ADMIN_OR_MEMBER, "Add a tag to a server."),
    RuleDefault(TAGS_UPDATE_ALL, ADMIN_OR_MEMBER, "Replace all the tags of a server."),
    RuleDefault(TAGS_DELETE, ADMIN_OR_MEMBER, "Remove a tag from a server."),
    RuleDefault(TAGS_DELETE_ALL, ADMIN_OR_MEMBER, "Remove all the tags of a server."),
    RuleDefault(ACTIONS_LIST, ADMIN_OR_READER, "List the actions taken on a server."),
    RuleDefault(ACTIONS_SHOW, ADMIN_OR_READER, "Show an action taken on a server."),
    RuleDefault(ACTIONS_EVENTS, ADMIN, "See the events of an action with their tracebacks and hosts."),
    RuleDefault(ACTIONS_EVENTS_DETAILS, ADMIN, "See the details of failed events (2.84)."),
]

# --- volumes (Cinder's names and defaults) and Nova's volume attachments ---
CREATE_BACKUP = "os_compute_api:os-create-backup"
SECURITY_GROUP_ADD = "os_compute_api:os-security-groups:add"
SECURITY_GROUP_REMOVE = "os_compute_api:os-security-groups:remove"
VOLUME_CREATE = "volume:create"
VOLUME_CREATE_FROM_IMAGE = "volume:create_from_image"
VOLUME_GET = "volume:get"
VOLUME_GET_ALL = "volume:get_all"
VOLUME_ALL_TENANTS = "volume_extension:volume_tenant_attribute"
VOLUME_UPDATE = "volume:update"
VOLUME_DELETE = "volume:delete"
VOLUME_EXTEND = "volume:extend"
VOLUME_UPLOAD_IMAGE = "volume_extension:volume_actions:upload_image"
VOLUME_SET_BOOTABLE = "volume:update_readonly_flag"
VOLUME_QUOTA_SHOW = "volume_extension:quotas:show"
VOLUME_QUOTA_UPDATE = "volume_extension:quotas:update"
VOLUME_QUOTA_DELETE = "volume_extension:quotas:delete"
VOLUME_RESERVE = "volume_extension:volume_actions:reserve"
VOLUME_UNRESERVE = "volume_extension:volume_actions:unreserve"
VOLUME_METADATA_GET = "volume:get_volume_metadata"
VOLUME_METADATA_CREATE = "volume:create_volume_metadata"
VOLUME_METADATA_UPDATE = "volume:update_volume_metadata"
VOLUME_METADATA_DELETE = "volume:delete_volume_metadata"
VOLUME_IMAGE_METADATA_SHOW = "volume_extension:volume_image_metadata:show"
VOLUME_IMAGE_METADATA_SET = "volume_extension:volume_image_metadata:set"
VOLUME_IMAGE_METADATA_REMOVE = "volume_extension:volume_image_metadata:remove"
VOLUME_LIMITS = "limits_extension:used_limits"
VOLUME_SUMMARY = "volume:get_volume_summary"
VOLUME_ZONES = "volume_extension:availability_zone_list"
# Stratus's own extension: an instance's public endpoints (Nova has none; Neutron's floating IP
# port forwardings are the nearest thing).
PORT_FORWARDS_INDEX = "os_compute_api:os-port-forwards:index"
PORT_FORWARDS_CREATE = "os_compute_api:os-port-forwards:create"
PORT_FORWARDS_DELETE = "os_compute_api:os-port-forwards:delete"
ATTACHMENTS_INDEX = "os_compute_api:os-volumes-attachments:index"
ATTACHMENTS_SHOW = "os_compute_api:os-volumes-attachments:show"
ATTACHMENTS_CREATE = "os_compute_api:os-volumes-attachments:create"
ATTACHMENTS_DELETE = "os_compute_api:os-volumes-attachments:delete"

_VOL = "Project members manage their project's volumes; readers only look; administrators any."
RULES += [
    RuleDefault(CREATE_BACKUP, ADMIN_OR_MEMBER, "Back a server up into an image, keeping the newest N."),
    RuleDefault(
        SECURITY_GROUP_ADD, ADMIN_OR_MEMBER, "Add a server to a security group (only 'default' exists)."
    ),
    RuleDefault(SECURITY_GROUP_REMOVE, ADMIN_OR_MEMBER, "Remove a server from a security group (refused)."),
    RuleDefault(VOLUME_CREATE, ADMIN_OR_MEMBER, f"Create a volume. {_VOL}"),
    RuleDefault(VOLUME_CREATE_FROM_IMAGE, ADMIN_OR_MEMBER, "Create a volume from an image."),
    RuleDefault(VOLUME_GET, ADMIN_OR_READER, "Show a volume."),
    RuleDefault(VOLUME_GET_ALL, ADMIN_OR_READER, "List the project's volumes."),
    RuleDefault(VOLUME_SUMMARY, ADMIN_OR_READER, "Count and size the project's volumes (3.12)."),
    RuleDefault(VOLUME_ZONES, ADMIN_OR_READER, "List the availability zones of volumes."),
    RuleDefault(
        VOLUME_ALL_TENANTS, ADMIN, "List volumes of every project (all_tenants) and see their owner."
    ),
    RuleDefault(VOLUME_UPDATE, ADMIN_OR_MEMBER, "Change a volume's name or description."),
    RuleDefault(VOLUME_DELETE, ADMIN_OR_MEMBER, "Delete a volume."),
    RuleDefault(VOLUME_EXTEND, ADMIN_OR_MEMBER, "Extend a detached volume (os-extend)."),
    RuleDefault(VOLUME_UPLOAD_IMAGE, ADMIN_OR_MEMBER, "Upload a volume to a new image."),
    RuleDefault(VOLUME_SET_BOOTABLE, ADMIN_OR_MEMBER, "Mark a volume bootable or not (os-set_bootable)."),
    RuleDefault(VOLUME_QUOTA_SHOW, ADMIN_OR_READER, "Show a project's volume quotas."),
    RuleDefault(VOLUME_QUOTA_UPDATE, ADMIN, "Change a project's volume quotas."),
    RuleDefault(VOLUME_QUOTA_DELETE, ADMIN, "Put a project's volume quotas back to the defaults."),
    RuleDefault(VOLUME_RESERVE, ADMIN_OR_MEMBER, "Reserve a volume for an attach (os-reserve)."),
    RuleDefault(VOLUME_UNRESERVE, ADMIN_OR_MEMBER, "Give a reserved volume back (os-unreserve)."),
    RuleDefault(VOLUME_METADATA_GET, ADMIN_OR_READER, "Show a volume's metadata."),
    RuleDefault(VOLUME_METADATA_CREATE, ADMIN_OR_MEMBER, "Add or change metadata items of a volume."),
    RuleDefault(VOLUME_METADATA_UPDATE, ADMIN_OR_MEMBER, "Replace a volume's metadata or set one item."),
    RuleDefault(VOLUME_METADATA_DELETE, ADMIN_OR_MEMBER, "Delete a metadata item of a volume."),
    RuleDefault(VOLUME_IMAGE_METADATA_SHOW, ADMIN_OR_READER, "Show the image metadata of a volume."),
    RuleDefault(VOLUME_IMAGE_METADATA_SET, ADMIN_OR_MEMBER, "Set image metadata items of a volume."),
    RuleDefault(VOLUME_IMAGE_METADATA_REMOVE, ADMIN_OR_MEMBER, "Remove an image metadata item of a volume."),
    RuleDefault(VOLUME_LIMITS, ADMIN_OR_READER, "Show the project's volume limits and usage."),
    RuleDefault(PORT_FORWARDS_INDEX, ADMIN_OR_READER, "List a server's port forwards."),
    RuleDefault(PORT_FORWARDS_CREATE, ADMIN_OR_MEMBER, "Forward a port of the server's host to the server."),
    RuleDefault(PORT_FORWARDS_DELETE, ADMIN_OR_MEMBER, "Remove a port forward of a server."),
    RuleDefault(ATTACHMENTS_INDEX, ADMIN_OR_READER, "List the volumes attached to a server."),
    RuleDefault(ATTACHMENTS_SHOW, ADMIN_OR_READER, "Show a volume attachment of a server."),
    RuleDefault(ATTACHMENTS_CREATE, ADMIN_OR_MEMBER, "Attach a volume to a server."),
    RuleDefault(ATTACHMENTS_DELETE, ADMIN_OR_MEMBER, "Detach a volume from a server."),
]

# --- key pairs (Nova's names and defaults: they belong to a user, across projects) ---
KEYPAIRS_INDEX = "os_compute_api:os-keypairs:index"
KEYPAIRS_CREATE = "os_compute_api:os-keypairs:create"
KEYPAIRS_SHOW = "os_compute_api:os-keypairs:show"
KEYPAIRS_DELETE = "os_compute_api:os-keypairs:delete"

ADMIN_OR_OWNER = f"({ADMIN}) or user_id:%(user_id)s"
_OWN = "Users manage their own key pairs; administrators any user's (user_id, 2.10+)."
RULES += [
    RuleDefault(KEYPAIRS_INDEX, ADMIN_OR_OWNER, f"List key pairs. {_OWN}"),
    RuleDefault(KEYPAIRS_CREATE, ADMIN_OR_OWNER, f"Create or import a key pair. {_OWN}"),
    RuleDefault(KEYPAIRS_SHOW, ADMIN_OR_OWNER, f"Show a key pair. {_OWN}"),
    RuleDefault(KEYPAIRS_DELETE, ADMIN_OR_OWNER, f"Delete a key pair. {_OWN}"),
]

# --- resize, rebuild, rescue (Nova's names and defaults) ---
SERVERS_RESIZE = "os_compute_api:servers:resize"
SERVERS_CONFIRM_RESIZE = "os_compute_api:servers:confirm_resize"
SERVERS_REVERT_RESIZE = "os_compute_api:servers:revert_resize"
SERVERS_REBUILD = "os_compute_api:servers:rebuild"
RESCUE = "os_compute_api:os-rescue"
UNRESCUE = "os_compute_api:os-unrescue"
RULES += [
    RuleDefault(SERVERS_RESIZE, ADMIN_OR_MEMBER, f"Resize a server to another flavor. {_ACT}"),
    RuleDefault(SERVERS_CONFIRM_RESIZE, ADMIN_OR_MEMBER, f"Confirm a server's resize. {_ACT}"),
    RuleDefault(SERVERS_REVERT_RESIZE, ADMIN_OR_MEMBER, f"Revert a server's resize. {_ACT}"),
    RuleDefault(SERVERS_REBUILD, ADMIN_OR_MEMBER, f"Rebuild a server with an image. {_ACT}"),
    RuleDefault(RESCUE, ADMIN_OR_MEMBER, f"Boot a server from a rescue image. {_ACT}"),
    RuleDefault(UNRESCUE, ADMIN_OR_MEMBER, f"Return a rescued server to its own disk. {_ACT}"),
]

# --- moving instances between hosts (Nova's names and defaults: admin only) ---
MIGRATE = "os_compute_api:os-migrate-server:migrate"
MIGRATE_HOST = "os_compute_api:os-migrate-server:migrate:host"
EVACUATE = "os_compute_api:os-evacuate"
MIGRATIONS_INDEX = "os_compute_api:os-migrations:index"
SERVICES_DELETE = "os_compute_api:os-services:delete"
RULES += [
    RuleDefault(MIGRATE, ADMIN, "Cold migrate a server to another host (confirm or revert like a resize)."),
    RuleDefault(MIGRATE_HOST, ADMIN, "Cold migrate a server to a named host (2.56)."),
    RuleDefault(EVACUATE, ADMIN, "Rebuild a server of a host that is down on another host."),
    RuleDefault(MIGRATIONS_INDEX, ADMIN, "List the migrations of every server."),
    RuleDefault(SERVICES_DELETE, ADMIN, "Remove a compute host that holds no instances."),
]

# --- shelve and server groups (Nova's names and defaults) ---
SHELVE = "os_compute_api:os-shelve:shelve"
SHELVE_OFFLOAD = "os_compute_api:os-shelve:shelve_offload"
UNSHELVE = "os_compute_api:os-shelve:unshelve"
UNSHELVE_TO_HOST = "os_compute_api:os-shelve:unshelve_to_host"
SERVER_GROUPS_CREATE = "os_compute_api:os-server-groups:create"
SERVER_GROUPS_DELETE = "os_compute_api:os-server-groups:delete"
SERVER_GROUPS_INDEX = "os_compute_api:os-server-groups:index"
SERVER_GROUPS_ALL_PROJECTS = "os_compute_api:os-server-groups:index:all_projects"
SERVER_GROUPS_SHOW = "os_compute_api:os-server-groups:show"

RULES += [
    RuleDefault(SHELVE, ADMIN_OR_MEMBER, f"Shelve a server. {_ACT}"),
    RuleDefault(SHELVE_OFFLOAD, ADMIN, "Offload a shelved server from its host at once."),
    RuleDefault(UNSHELVE, ADMIN_OR_MEMBER, f"Unshelve a server. {_ACT}"),
    RuleDefault(UNSHELVE_TO_HOST, ADMIN, "Unshelve a shelved offloaded server onto a named host (2.91)."),
    RuleDefault(SERVER_GROUPS_CREATE, ADMIN_OR_MEMBER, "Create a server group in the project."),
    RuleDefault(SERVER_GROUPS_DELETE, ADMIN_OR_MEMBER, "Delete a server group of the project."),
    RuleDefault(SERVER_GROUPS_INDEX, ADMIN_OR_READER, "List the project's server groups."),
    RuleDefault(SERVER_GROUPS_ALL_PROJECTS, ADMIN, "List the server groups of every project."),
    RuleDefault(SERVER_GROUPS_SHOW, ADMIN_OR_READER, "Show a server group of the project."),
]
