"""Creating, reading and authenticating users, and making admins."""

from __future__ import annotations

import os
from functools import cache

import anyio
import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from internal.errors import Conflict, NotAuthenticated, NotFound
from internal.models import User
from internal.schemas import UserCreate
from internal.services import passwords


class EmailTaken(Conflict):
    def __init__(self, email: str) -> None:
        super().__init__(f"a user with email {email} already exists")


# Argon2 hashes at once, per core of the machine: see `argon2_threads`.
ARGON2_THREADS_PER_CORE = 2


@cache
def argon2_threads() -> anyio.CapacityLimiter:
    """The threads password hashes and checks run on: two per core (made on first use, in the loop).

    Argon2 is slow by design, tens of milliseconds of a core and 64 MiB of memory per hash, so
    more hashes at once than cores compute no more of them per second. Without this limit they ran
    on anyio's 40 threads: 32 concurrent sign-ups took the API to a peak RSS of 2.1 GiB (377 MiB
    with the limit), and the event loop, one thread among 41, got its turn so rarely that at 64
    connections sign-ups per second were 11 % below a bare FastAPI app's (0 to 5 % with the limit).
    Two per core rather than one: with one, sign-ups per second measured about 5 % lower at 32.
    """
    return anyio.CapacityLimiter(ARGON2_THREADS_PER_CORE * (os.cpu_count() or 1))


async def hash_password(password: str) -> str:
    """Argon2 off the event loop, on one of `argon2_threads`."""
    return await anyio.to_thread.run_sync(passwords.hash_password, password, limiter=argon2_threads())


async def verify_password(password_hash: str | None, password: str) -> bool:
    """`passwords.verify` off the event loop, on one of `argon2_threads`."""
    return await anyio.to_thread.run_sync(passwords.verify, password_hash, password, limiter=argon2_threads())


async def create_user(session: AsyncSession, data: UserCreate) -> User:
    """Insert a user; the unique constraint, not the pre-check, is what makes duplicates impossible.

    The password is hashed before the first query: a query checks out a pooled connection and opens
    a transaction that the session keeps until the request ends, and under load a hash takes
    seconds, so hashing after it would hold connections idle until the pool runs out (503s).
    """
    password_hash = await hash_password(data.password)
    if await session.scalar(select(User.id).where(User.email == data.email)) is not None:
        raise EmailTaken(data.email)
    user = User(email=data.email, name=data.name, password_hash=password_hash)
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


async def get_user_as(session: AsyncSession, viewer: User, user_id: int) -> User:
    """A user as `viewer` may see them: themself, or anyone for an admin; others do not exist (404)."""
    if viewer.id != user_id and not viewer.is_admin:
        raise NotFound(f"user {user_id} not found")
    return await get_user(session, user_id)


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The user with this email and password. Unknown email and wrong password fail alike, after the
    same Argon2 work, so neither the answer nor its timing tells whether the account exists."""
    # The login form's username is free text; one with a NUL byte (which Postgres refuses in text)
    # cannot be a stored email, so it is an unknown user like any other.
    query = select(User).where(User.email == email.strip().lower())
    user = None if "\x00" in email else await session.scalar(query)
    stored = user.password_hash if user is not None else None
    if not await verify_password(stored, password) or user is None:
        raise NotAuthenticated("incorrect email or password")
    if stored is not None and passwords.needs_rehash(stored):
        user.password_hash = await hash_password(password)
    return user


async def ensure_admin(
    session: AsyncSession, email: str, password: str, *, replace_password: bool, name: str = "Admin"
) -> bool:
    """Make `email` an admin: create the user with `password`, or promote an existing one (whose
    password is replaced only if `replace_password`). Returns True when the user was created."""
    user = await session.scalar(select(User).where(User.email == email))
    created = user is None
    if user is None:
        user = User(email=email, name=name)
        session.add(user)
    user.is_admin = True
    if created or replace_password:
        user.password_hash = await hash_password(password)
    await session.flush()
    return created
