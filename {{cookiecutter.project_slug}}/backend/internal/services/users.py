"""Creating and reading users."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from internal.errors import Conflict, NotFound
from internal.models import User
from internal.schemas import UserCreate


class EmailTaken(Conflict):
    def __init__(self, email: str) -> None:
        super().__init__(f"a user with email {email} already exists")


async def create_user(session: AsyncSession, data: UserCreate) -> User:
    """Insert a user; the unique constraint, not the pre-check, is what makes duplicates impossible."""
    if await session.scalar(select(User.id).where(User.email == data.email)) is not None:
        raise EmailTaken(data.email)
    user = User(email=data.email, name=data.name)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise EmailTaken(data.email) from exc
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user
