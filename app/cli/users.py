"""`almanac user ...`, `almanac token ...`, `almanac audit`, `almanac run approve|reject`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.output import client, emit_json, fail, table
from app.client import AlmanacAPIError

user_app = typer.Typer(help="User accounts (admins), your own password.", no_args_is_help=True)
token_app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PasswordOpt = Annotated[
    str | None,
    typer.Option(envvar="ALMANAC_NEW_PASSWORD", help="The new password (else asked for, hidden)."),
]
MustChange = Annotated[
    bool,
    typer.Option(
        "--must-change/--no-must-change", help="Require a password change at the next login."
    ),
]
_USER_COLUMNS = [
    "username",
    "role",
    "instances",
    "disabled",
    "timezone",
    "must_change_password",
    "locked_until",
]


def _call(method: str, path: str, **kwargs: Any) -> Any:
    try:
        return client().request(method, path, **kwargs)
    except AlmanacAPIError as error:
        raise fail(error) from error


def _password(given: str | None, prompt: str = "New password") -> str:
    if given:
        return given
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


def _instances(text: str) -> list[str]:
    return [i.strip() for i in text.split(",") if i.strip()]


@user_app.command("list")
def list_users(as_json: JsonFlag = False) -> None:
    rows = _call("GET", "/users")
    if as_json:
        emit_json(rows)
    else:
        table(rows, _USER_COLUMNS, "Users")


@user_app.command("show")
def show(username: str) -> None:
    emit_json(_call("GET", f"/users/{username}"))


@user_app.command("whoami")
def whoami() -> None:
    emit_json(_call("GET", "/auth/me"))


@user_app.command("create")
def create(
    username: str,
    role: Annotated[
        str, typer.Option(help="superadmin, admin, operator, user or viewer.")
    ] = "viewer",
    instances: Annotated[str, typer.Option(help="Comma separated; '*' for all.")] = "default",
    timezone: str = "UTC",
    password: PasswordOpt = None,
    must_change: MustChange = True,
) -> None:
    body = {
        "username": username,
        "role": role,
        "instances": _instances(instances),
        "timezone": timezone,
        "password": _password(password),
        "must_change_password": must_change,
    }
    emit_json(_call("POST", "/users", json=body))


@user_app.command("update")
def update(
    username: str,
    role: Annotated[str | None, typer.Option()] = None,
    instances: Annotated[str | None, typer.Option(help="Comma separated; '*' for all.")] = None,
    timezone: Annotated[str | None, typer.Option()] = None,
    unlock: Annotated[bool, typer.Option("--unlock", help="Clear a login lockout.")] = False,
) -> None:
    body: dict[str, Any] = {}
    if role is not None:
        body["role"] = role
    if instances is not None:
        body["instances"] = _instances(instances)
    if timezone is not None:
        body["timezone"] = timezone
    if unlock:
        body["unlock"] = True
    emit_json(_call("PATCH", f"/users/{username}", json=body))


@user_app.command("disable")
def disable(username: str) -> None:
    """Disable the account and end its sessions and tokens."""
    _call("PATCH", f"/users/{username}", json={"disabled": True})
    typer.echo(f"disabled {username}")


@user_app.command("enable")
def enable(username: str) -> None:
    _call("PATCH", f"/users/{username}", json={"disabled": False})
    typer.echo(f"enabled {username}")


@user_app.command("delete")
def delete(
    username: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False
) -> None:
    if not yes:
        typer.confirm(f"Delete user {username}?", abort=True)
    _call("DELETE", f"/users/{username}")
    typer.echo(f"deleted {username}")


@user_app.command("reset-password")
def reset_password(
    username: str, password: PasswordOpt = None, must_change: MustChange = True
) -> None:
    """Set another user's password; their sessions and tokens end."""
    _call(
        "POST",
        f"/users/{username}/password",
        json={"password": _password(password), "must_change_password": must_change},
    )
    typer.echo(f"password of {username} reset")


@user_app.command("passwd")
def passwd(
    current: Annotated[
        str | None, typer.Option(envvar="ALMANAC_PASSWORD", help="Your current password.")
    ] = None,
    password: PasswordOpt = None,
) -> None:
    """Change your own password (your other sessions and tokens end)."""
    current = current or typer.prompt("Current password", hide_input=True)
    _call(
        "POST",
        "/auth/password",
        json={"current_password": current, "password": _password(password)},
    )
    typer.echo("password changed")


@token_app.command("list")
def list_tokens(
    all_users: Annotated[bool, typer.Option("--all", help="Admins: everyone's.")] = False,
    as_json: JsonFlag = False,
) -> None:
    rows = _call("GET", "/tokens", params={"all": all_users})
    if as_json:
        emit_json(rows)
    else:
        table(
            rows,
            ["id", "username", "name", "kind", "expires_at", "revoked_at", "last_used_at"],
            "Tokens",
        )


@token_app.command("create")
def create_token(
    name: str, days: Annotated[int, typer.Option(help="Days until it expires.")] = 90
) -> None:
    """Print a new token once (only its digest is kept)."""
    data = _call("POST", "/tokens", json={"name": name, "expires_in_days": days})
    typer.echo(data["token"])
    typer.echo(f"token {data['id']} ({data['name']}) expires {data['expires_at']}", err=True)


@token_app.command("revoke")
def revoke_token(token_id: int) -> None:
    _call("DELETE", f"/tokens/{token_id}")
    typer.echo(f"revoked token {token_id}")


def audit(
    actor: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option(help='Exact, or a prefix: "task.*".')] = None,
    target_kind: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 with offset.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 with offset.")] = None,
    page: int = 1,
    as_json: JsonFlag = False,
) -> None:
    """The audit log, newest first (admins)."""
    params = {
        k: v
        for k, v in (
            ("actor", actor),
            ("action", action),
            ("target_kind", target_kind),
            ("since", since),
            ("until", until),
        )
        if v is not None
    }
    data = _call("GET", "/audit", params={**params, "page": page})
    if as_json:
        emit_json(data)
    else:
        table(
            data["items"],
            ["at", "actor", "action", "target_kind", "target_id", "instance", "source", "detail"],
            "Audit",
        )


def _decide(verb: str, run_id: int, comment: str) -> None:
    data = _call("POST", f"/runs/{run_id}/{verb}", json={"comment": comment})
    typer.echo(f"run {data['id']} {data['status']}")


def approve(run_id: int, comment: Annotated[str, typer.Option("--comment", "-m")] = "") -> None:
    """Approve a run waiting in PENDING_APPROVAL (operators)."""
    _decide("approve", run_id, comment)


def reject(run_id: int, comment: Annotated[str, typer.Option("--comment", "-m")] = "") -> None:
    """Reject a run waiting in PENDING_APPROVAL (operators)."""
    _decide("reject", run_id, comment)


def install(cli: typer.Typer, run_app: typer.Typer) -> None:
    """Add `user`, `token`, `audit` and `run approve|reject` to the command line."""
    cli.add_typer(user_app, name="user")
    cli.add_typer(token_app, name="token")
    cli.command("audit")(audit)
    run_app.command("approve")(approve)
    run_app.command("reject")(reject)
