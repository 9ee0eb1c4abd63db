"""First-start work: bring the schema up to date and make sure an admin exists."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlmodel import select

from app.clock import Clock
from app.db.engine import normalise_url, session_scope
from app.db.tables import User
from app.domain.roles import Role
from app.security import hash_password, random_password

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def migrations_folder() -> Path:
    """Where the Alembic scripts are: inside an installed package (`app/_migrations`, put
    there by setup.py when the wheel is built), else the checkout's root `migrations/`."""
    packaged = _PACKAGE / "_migrations"
    if (packaged / "env.py").is_file():
        return packaged
    return _CHECKOUT / "migrations"


def alembic_config(url: str) -> Config:
    folder = migrations_folder()
    ini = folder / "alembic.ini" if folder.name == "_migrations" else _CHECKOUT / "alembic.ini"
    config = Config(str(ini))
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


def ensure_admin(engine: Engine, clock: Clock, password: str | None) -> str | None:
    """Create `admin` when there are no users; returns the password when we made one up."""
    with session_scope(engine) as session:
        if session.exec(select(User.id)).first() is not None:
            return None
        chosen = password or random_password()
        session.add(
            User(
                username="admin",
                password_hash=hash_password(chosen),
                role=Role.SUPERADMIN.value,
                instances=["*"],
                created_at=clock.now(),
            )
        )
    return None if password else chosen
