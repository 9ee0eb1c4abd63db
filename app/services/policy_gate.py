"""The server's check of a run's spec against the policies of its instance and target agent,
when a task is saved (by the API or an import) and when a run or adhoc command is submitted.
Admins (and above) may ask for what the policies do not allow; the agent's own policy still
applies to them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlmodel import Session

from app.db.policies import agent_policy, instance_policy
from app.domain.roles import Role, role_at_least
from app.domain.run_policy import check
from app.errors import Forbidden


def enforce(
    session: Session,
    role: str,
    spec: Mapping[str, Any],
    instance: str,
    agents: Iterable[str] = (),
    *,
    label: str = "",
) -> None:
    """Forbidden (403) naming the first field outside a policy, unless `role` is admin or
    above. `agents`: the agents the spec may run on by name (a task's target, adhoc's
    choice). `label` prefixes the field (an import names the task)."""
    if role_at_least(role, Role.ADMIN):
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
            raise Forbidden(
                f"{label}{first.field}: {first.problem} by the policy of {where}; "
                "only an admin may ask for it"
            )


def enforce_tasks(session: Session, role: str, tasks: Iterable[Mapping[str, Any]]) -> None:
    """`enforce` for task definitions as an import holds them (each with its instance)."""
    for task in tasks:
        enforce(
            session,
            role,
            task,
            str(task.get("instance") or "default"),
            [str(task.get("target") or "")],
            label=f"tasks[{task.get('name')}].",
        )
