"""Password hashing with Argon2id (argon2-cffi, its RFC 9106 low-memory profile).

Only hashes are stored. `verify` runs the same work whether or not a user exists (it checks against
a dummy hash when there is none), so login timing does not reveal which emails have accounts.
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (no such user, no password set) always False,
    after the same Argon2 work as a real check."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (upgrade it at login)."""
    return _hasher.check_needs_rehash(password_hash)
