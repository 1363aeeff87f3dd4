"""Authorization with oslo.policy.

Each app registers its rule defaults (under the Glance and Nova names) when it is ready; an
operator's policy file (JSON or YAML, ``STRATUS_POLICY_FILE``) overrides any of them. Views, API
and templates all ask the same question through :func:`can` / :func:`authorize`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from oslo_config import cfg
from oslo_policy import _checks as oslo_checks
from oslo_policy import policy as oslo_policy

from dashboard.exceptions import Forbidden

RuleDefault = oslo_policy.RuleDefault

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
ADMIN_OR_MEMBER = f"{ADMIN} or ({PROJECT_MEMBER})"
ADMIN_OR_READER = f"{ADMIN} or ({PROJECT_READER})"

BASE_RULES = [
    RuleDefault("context_is_admin", "role:admin", "A cloud administrator."),
    RuleDefault("admin_required", ADMIN, "Administrator only."),
    RuleDefault("project_member", PROJECT_MEMBER, "A member of the target project."),
    RuleDefault("project_reader", PROJECT_READER, "A reader of the target project."),
    RuleDefault("admin_or_member", ADMIN_OR_MEMBER),
    RuleDefault("admin_or_reader", ADMIN_OR_READER),
    RuleDefault("default", ADMIN_OR_READER, "Rule used for names no default covers."),
    RuleDefault("identity:list_projects", ADMIN),
    RuleDefault("identity:get_project", f"{ADMIN} or project_id:%(target.project.id)s"),
    RuleDefault("identity:create_project", ADMIN),
    RuleDefault("identity:update_project", ADMIN),
    RuleDefault("identity:delete_project", ADMIN),
    RuleDefault("identity:list_users", ADMIN),
    RuleDefault("identity:get_user", f"{ADMIN} or user_id:%(target.user.id)s"),
    RuleDefault("identity:create_user", ADMIN),
    RuleDefault("identity:update_user", ADMIN),
    RuleDefault("identity:delete_user", ADMIN),
    RuleDefault("identity:create_grant", ADMIN),
    RuleDefault("identity:revoke_grant", ADMIN),
    RuleDefault("identity:check_grant", ADMIN),
    RuleDefault("identity:list_grants", ADMIN),
    RuleDefault("identity:list_role_assignments", ADMIN),
    # Keystone's defaults: a user manages their own application credentials; an admin may look.
    RuleDefault("identity:create_application_credential", "user_id:%(user_id)s"),
    RuleDefault("identity:get_application_credential", f"{ADMIN} or user_id:%(user_id)s"),
    RuleDefault("identity:list_application_credentials", f"{ADMIN} or user_id:%(user_id)s"),
    RuleDefault("identity:delete_application_credential", f"{ADMIN} or user_id:%(user_id)s"),
    RuleDefault("dashboard:admin_section", ADMIN, "See the Admin section of the dashboard."),
    RuleDefault("dashboard:update_quotas", ADMIN, "Change the quotas of projects and the default quotas."),
]

_defaults: dict[str, RuleDefault] = {}
_lock = threading.Lock()
_enforcer: oslo_policy.Enforcer | None = None


def register_defaults(rules: Iterable[RuleDefault]) -> None:
    global _enforcer
    with _lock:
        for rule in rules:
            _defaults[rule.name] = rule
        _enforcer = None
        _decisions.forget()


def enforcer() -> oslo_policy.Enforcer:
    global _enforcer
    with _lock:
        if _enforcer is None:
            conf = cfg.ConfigOpts()
            conf([], project="stratus", default_config_files=[], default_config_dirs=[])
            path = settings.POLICY_FILE or str(settings.DATA_DIR / "policy-not-configured.yaml")
            enf = oslo_policy.Enforcer(conf, policy_file=path, default_rule="default")
            enf.register_defaults(list(_defaults.values()))
            enf.load_rules()
            # An operator file that names an undefined rule or loops is refused, not half applied.
            enf.check_rules(raise_on_violation=True)
            _enforcer = enf
        return _enforcer


class _Decisions:
    """Decisions already taken, per (rule, target, credentials).

    With the built-in checks (roles, rules, target and credential fields) a decision is a function
    of those three and the rules, and oslo.policy spends far longer re-deriving it (a stat of the
    policy file and an argument inspection per check) than a whole API call spends on its own work.
    The rules are re-read at most once a second, as oslo.policy does when the operator's file
    changes; new rules start an empty table. Rules with an external check (http:) keep nothing.
    """

    RELOAD_CHECK_SECONDS = 1.0
    MAX_ENTRIES = 8192

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        # (rules, table or None when nothing may be kept), swapped as one reference.
        self.state: tuple[object | None, dict | None] = (None, None)
        self.next_check = 0.0

    def _refresh(self, enf: oslo_policy.Enforcer) -> None:
        with _lock:
            now = time.monotonic()
            if now >= self.next_check:
                enf.load_rules()
                self.next_check = now + self.RELOAD_CHECK_SECONDS
            if enf.rules is not self.state[0]:
                keep = all(_pure(check) for check in enf.rules.values())
                self.state = (enf.rules, {} if keep else None)

    def decide(self, rule: str, target: dict, creds: dict) -> bool:
        enf = enforcer()
        if time.monotonic() >= self.next_check or enf.rules is not self.state[0]:
            self._refresh(enf)
        # The table of the rules checked above: should the rules change meanwhile, a decision taken
        # now lands in a table that is about to be dropped, never in the new one.
        table = self.state[1]
        try:
            key = (rule, frozenset(target.items()), creds["user_id"], creds["project_id"], *creds["roles"])
            hash(key)
        except TypeError:  # a target value that is a list or a dict
            table = None
        if table is not None:
            known = table.get(key)
            if known is not None:
                return known
        decision = bool(enf.enforce(rule, target, creds))
        if table is not None:
            if len(table) >= self.MAX_ENTRIES:
                table.clear()
            table[key] = decision
        return decision


# Checks decided by the rules, the target and the credentials alone. Any other kind (http:, a
# check a plugin registers) may ask something outside, so its decisions are not kept.
_PURE_CHECKS = (oslo_checks.TrueCheck, oslo_checks.FalseCheck, oslo_checks.RuleCheck,
                oslo_checks.RoleCheck, oslo_checks.GenericCheck)  # fmt: skip


def _pure(check) -> bool:
    if isinstance(check, oslo_checks.NotCheck):
        return _pure(check.rule)
    if isinstance(check, oslo_checks.AndCheck | oslo_checks.OrCheck):
        return all(_pure(c) for c in check.rules)
    return type(check) in _PURE_CHECKS


_decisions = _Decisions()


def can(ctx, rule: str, target: Mapping[str, Any] | None = None) -> bool:
    """Whether the context may do ``rule`` on ``target`` (defaults to the context's own project)."""
    if ctx is None:
        return False
    if rule not in _defaults:
        raise KeyError(f"Policy rule {rule!r} has no registered default.")
    if target is None:
        target = {"project_id": ctx.project_id}
    return _decisions.decide(rule, dict(target), ctx.creds())


def authorize(ctx, rule: str, target: Mapping[str, Any] | None = None) -> None:
    if not can(ctx, rule, target):
        raise Forbidden(f"Policy doesn't allow {rule} to be performed.")
