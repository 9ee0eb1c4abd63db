"""Variable sets: named variables and secrets per instance (EasyTask's profiles).

Every role reads the sets of its instances (plain values masked below admin, secret values
never: names only); an admin (or superadmin) of the set's instance creates, changes and
deletes it. Users of other instances see nothing (404). Audit rows carry names, never
secret values. A set in use by a task or group is not deleted (409).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.db.engine import session_scope
from app.db.sealing import box_of, resolve_secrets
from app.db.variable_set_tables import VariableSet
from app.db.variable_sets import find_set, set_secrets, users_of
from app.domain.roles import Role
from app.env_secrets import MASK, SET, EnvValues
from app.errors import Conflict, InvalidInput, NotFound
from app.models.variable_set_schemas import (
    VariableSetCreate,
    VariableSetPublic,
    VariableSetUpdate,
)
from app.services.actor import Actor


def _public(session: Session, row: VariableSet, *, reveal: bool) -> VariableSetPublic:
    names = sorted(set_secrets(row, box_of(session)) if row.secrets_sealed else [])
    return VariableSetPublic(
        id=row.id or 0,
        name=row.name,
        instance=row.instance,
        description=row.description,
        variables=dict(row.variables) if reveal else dict.fromkeys(row.variables, MASK),
        secrets=dict.fromkeys(names, SET),
        used_by=users_of(session, row),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _audit_view(public: VariableSetPublic) -> dict[str, object]:
    """What an audit row keeps: names and plain values, never a secret value."""
    return public.model_dump(mode="json", exclude={"used_by"})


def _reveal(actor: Actor) -> bool:
    return actor.at_least(Role.ADMIN)


def _visible(session: Session, actor: Actor, name: str, instance: str | None) -> VariableSet:
    """The set called `name` among the caller's instances (`instance` picks one when the
    name is used in several)."""
    stmt = select(VariableSet).where(VariableSet.name == name)
    if instance is not None:
        stmt = stmt.where(VariableSet.instance == instance)
    rows = [r for r in session.exec(stmt).all() if actor.scope.allows(r.instance)]
    if not rows:
        raise NotFound("variable set", name)
    if len(rows) > 1:
        raise InvalidInput("instance", f"{name!r} is a set of several instances: name one")
    return rows[0]


def list_sets(
    session: Session, *, actor: Actor, instance: str | None = None
) -> list[VariableSetPublic]:
    stmt = actor.scope.filter(select(VariableSet), VariableSet.instance)
    if instance is not None:
        stmt = stmt.where(VariableSet.instance == instance)
    rows = session.exec(stmt.order_by(col(VariableSet.instance), col(VariableSet.name))).all()
    return [_public(session, r, reveal=_reveal(actor)) for r in rows]


def read_set(
    session: Session, *, actor: Actor, name: str, instance: str | None = None
) -> VariableSetPublic:
    return _public(session, _visible(session, actor, name, instance), reveal=_reveal(actor))


def _checked(variables: dict[str, str], secrets: dict[str, str]) -> None:
    both = sorted(set(variables) & set(secrets))
    if both:
        raise InvalidInput(f"secrets.{both[0]}", "is also in variables: a name is either")


def create_set(
    engine: Engine, *, actor: Actor, now: datetime, body: VariableSetCreate
) -> VariableSetPublic:
    actor.require(Role.ADMIN)
    actor.scope.require(body.instance)
    secrets = resolve_secrets(body.secrets, {})
    _checked(body.variables, secrets)
    with session_scope(engine) as session:
        if find_set(session, body.instance, body.name) is not None:
            raise Conflict(
                f"name: a variable set named {body.name!r} already exists "
                f"in instance {body.instance!r}"
            )
        row = VariableSet(
            name=body.name,
            instance=body.instance,
            description=body.description,
            variables=dict(body.variables),
            secrets_sealed=box_of(session).seal(EnvValues(secrets=secrets)),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        result = _public(session, row, reveal=True)
        actor.audit(
            session,
            at=now,
            action="variable_set.create",
            target_kind="variable_set",
            target_id=row.name,
            after=_audit_view(result),
            instance=row.instance,
        )
    return result


def update_set(
    engine: Engine,
    *,
    actor: Actor,
    now: datetime,
    name: str,
    body: VariableSetUpdate,
    instance: str | None = None,
) -> VariableSetPublic:
    actor.require(Role.ADMIN)
    with session_scope(engine) as session:
        row = _visible(session, actor, name, instance)
        actor.scope.require(row.instance)
        before = _public(session, row, reveal=True)
        box = box_of(session)
        stored = set_secrets(row, box)
        variables = dict(body.variables) if body.variables is not None else dict(row.variables)
        secrets = resolve_secrets(body.secrets, stored) if body.secrets is not None else stored
        _checked(variables, secrets)
        if body.description is not None:
            row.description = body.description
        row.variables = variables
        row.secrets_sealed = box.seal(EnvValues(secrets=secrets))
        row.updated_at = now
        session.add(row)
        session.flush()
        result = _public(session, row, reveal=True)
        changed = sorted(n for n in secrets if stored.get(n) != secrets[n])
        actor.audit(
            session,
            at=now,
            action="variable_set.update",
            target_kind="variable_set",
            target_id=row.name,
            before=_audit_view(before),
            after=_audit_view(result),
            instance=row.instance,
            detail=f"secrets set: {', '.join(changed)}" if changed else "",
        )
    return result


def delete_set(
    engine: Engine, *, actor: Actor, now: datetime, name: str, instance: str | None = None
) -> None:
    actor.require(Role.ADMIN)
    with session_scope(engine) as session:
        row = _visible(session, actor, name, instance)
        actor.scope.require(row.instance)
        users = users_of(session, row)
        if users:
            raise Conflict(f"variable set {name!r} is used by {', '.join(users)}: detach it first")
        before = _public(session, row, reveal=True)
        session.delete(row)
        actor.audit(
            session,
            at=now,
            action="variable_set.delete",
            target_kind="variable_set",
            target_id=name,
            before=_audit_view(before),
            instance=before.instance,
        )
