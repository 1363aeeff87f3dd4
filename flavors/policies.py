"""Flavor policies: Nova's names and defaults."""

from dashboard.policy import ADMIN, ADMIN_OR_READER, RuleDefault

FLAVOR_READ = "os_compute_api:flavors:read"
FLAVOR_CREATE = "os_compute_api:os-flavor-manage:create"
FLAVOR_UPDATE = "os_compute_api:os-flavor-manage:update"
FLAVOR_DELETE = "os_compute_api:os-flavor-manage:delete"
ACCESS_LIST = "os_compute_api:os-flavor-access"
ACCESS_ADD = "os_compute_api:os-flavor-access:add_tenant_access"
ACCESS_REMOVE = "os_compute_api:os-flavor-access:remove_tenant_access"
SPECS_INDEX = "os_compute_api:os-flavor-extra-specs:index"
SPECS_SHOW = "os_compute_api:os-flavor-extra-specs:show"
SPECS_CREATE = "os_compute_api:os-flavor-extra-specs:create"
SPECS_UPDATE = "os_compute_api:os-flavor-extra-specs:update"
SPECS_DELETE = "os_compute_api:os-flavor-extra-specs:delete"

_MANAGE = "Formerly compute_extension:flavormanage; by default only administrators configure flavors."

RULES = [
    RuleDefault(
        FLAVOR_READ,
        ADMIN_OR_READER,
        "List and show flavors (public ones and those shared with the caller's project). "
        "Nova has no rule for this; Stratus adds one so that operators can restrict it.",
    ),
    RuleDefault(FLAVOR_CREATE, ADMIN, f"Create a flavor. {_MANAGE}"),
    RuleDefault(FLAVOR_UPDATE, ADMIN, f"Update a flavor's description. {_MANAGE}"),
    RuleDefault(FLAVOR_DELETE, ADMIN, f"Delete a flavor. {_MANAGE}"),
    RuleDefault(ACCESS_LIST, ADMIN, "List the projects that may use a private flavor."),
    RuleDefault(ACCESS_ADD, ADMIN, "Let a project use a private flavor."),
    RuleDefault(ACCESS_REMOVE, ADMIN, "Take a project off a private flavor's access list."),
    RuleDefault(SPECS_INDEX, ADMIN_OR_READER, "List the extra specs of a visible flavor."),
    RuleDefault(SPECS_SHOW, ADMIN_OR_READER, "Show one extra spec of a visible flavor."),
    RuleDefault(SPECS_CREATE, ADMIN, "Create or update flavor extra specs."),
    RuleDefault(SPECS_UPDATE, ADMIN, "Update one flavor extra spec."),
    RuleDefault(SPECS_DELETE, ADMIN, "Delete a flavor extra spec."),
]
