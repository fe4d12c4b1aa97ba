"""Password hashing with Argon2id (argon2-cffi), at the cost ARGON2_PROFILE names.

Only hashes are stored, each with the parameters it was made with: a hash made under one profile
verifies under any other, and `needs_rehash` tells a login to remake it under the current one.
`verify` runs the same work whether or not a user exists (it checks against a dummy hash of the
current profile when there is none), so login timing does not reveal which emails have accounts.

The profile is the process's setting (`get_settings()`), read where a hash is made, as every entry
point that hashes (the API, `lich users`, the migrate step) runs with the settings of its process.
"""

from __future__ import annotations

import dataclasses
import secrets
from functools import cache

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from internal.config import Argon2Profile, get_settings

PROFILES: dict[Argon2Profile, Parameters] = {
    # RFC 9106's second recommended option, argon2-cffi's default: 64 MiB, 3 passes, 4 lanes.
    "rfc9106-low-memory": profiles.RFC_9106_LOW_MEMORY,
    # The OWASP Password Storage Cheat Sheet's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    "owasp-minimum": dataclasses.replace(
        profiles.RFC_9106_LOW_MEMORY, memory_cost=19 * 1024, time_cost=2, parallelism=1
    ),
}


@cache
def hasher(profile: Argon2Profile) -> PasswordHasher:
    return PasswordHasher.from_parameters(PROFILES[profile])


def _hasher() -> PasswordHasher:
    return hasher(get_settings().argon2_profile)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


@cache
def _dummy_hash(current: PasswordHasher) -> str:
    return current.hash(secrets.token_urlsafe(16))


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (no such user, no password set) always False,
    after the same Argon2 work as a real check."""
    current = _hasher()
    try:
        return current.verify(password_hash or _dummy_hash(current), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current profile's (a login
    remakes it)."""
    return _hasher().check_needs_rehash(password_hash)
