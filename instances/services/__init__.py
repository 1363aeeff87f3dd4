"""Every state change of flavors and instances, written once and called from the API, the
dashboard and the tasks alike. The flavor functions keep their old import path."""

from .flavors import (
    FlavorExists,
    access_list,
    add_access,
    create_flavor,
    delete_extra_spec,
    delete_flavors,
    remove_access,
    replace_extra_specs,
    set_access,
    set_extra_specs,
    update_description,
)

__all__ = [
    "FlavorExists",
    "access_list",
    "add_access",
    "create_flavor",
    "delete_extra_spec",
    "delete_flavors",
    "remove_access",
    "replace_extra_specs",
    "set_access",
    "set_extra_specs",
    "update_description",
]
