"""/auth/token: trade a username and password for a bearer token."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from sqlmodel import select

from app.api.deps import ContextDep
from app.api.schemas import LoginRequest, TokenResponse
from app.db.engine import session_scope
from app.db.tables import ApiToken, User
from app.errors import AuthError
from app.security import hash_token, new_token, verify_password

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenResponse)
def issue_token(body: LoginRequest, context: ContextDep) -> TokenResponse:
    now = context.clock.now()
    with session_scope(context.engine) as session:
        user = session.exec(select(User).where(User.username == body.username)).first()
        if user is None or user.disabled or not verify_password(user.password_hash,
                                                                 body.password):
            raise AuthError("wrong username or password")
        token = new_token("alm")
        expires = now + timedelta(hours=context.settings.token_ttl_hours)
        session.add(ApiToken(user_id=user.id or 0, name="login", token_hash=hash_token(token),
                             created_at=now, expires_at=expires))
    return TokenResponse(access_token=token, expires_at=expires)
