"""Access tokens: JWTs (PyJWT, HS256) signed with SECRET_KEY, `sub` = the user id.

Decoding accepts HS256 only, so a token signed with another key or algorithm (`alg: none`
included) is refused, as is one without `exp` or past it.
"""

from __future__ import annotations

from datetime import timedelta

import jwt

from internal.config import Settings
from internal.db.base import utcnow
from internal.errors import NotAuthenticated

ALGORITHM = "HS256"


def issue(settings: Settings, user_id: int) -> str:
    now = utcnow()
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=settings.access_token_minutes)}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def user_id_of(settings: Settings, token: str) -> int:
    """The user id a valid token names; `NotAuthenticated` for anything else."""
    try:
        claims = jwt.decode(
            token, settings.secret_key, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise NotAuthenticated("invalid or expired token") from exc
