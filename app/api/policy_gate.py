"""The server's check of a run's spec against the policies of its instance and target agent,
when a task is saved and when a run or adhoc command is submitted. Admins (and above) may
ask for what the policies do not allow; the agent's own policy still applies to them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session

from app.db.policies import agent_policy, instance_policy
from app.db.tables import User
from app.domain.roles import Role, role_at_least
from app.domain.run_policy import check
from app.errors import Forbidden


def enforce(session: Session, user: User, spec: Mapping[str, Any], instance: str,
            agents: Iterable[str] = ()) -> None:
    """Forbidden (403) naming the first field outside a policy, unless `user` is an admin.
    `agents`: the agents the spec may run on by name (a task's target, adhoc's choice)."""
    if role_at_least(user.role, Role.ADMIN):
        return
    scopes = [(f"instance {instance!r}", instance_policy(session, instance))]
    for name in dict.fromkeys(a for a in agents if a):
        policy = agent_policy(session, name)
        if policy is not None:
            scopes.append((f"agent {name!r}", policy))
    for where, policy in scopes:
        found = check(spec, policy)
        if found:
            first = found[0]
            raise Forbidden(f"{first.field}: {first.problem} by the policy of {where}; "
                            "only an admin may ask for it")
