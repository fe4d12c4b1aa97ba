"""Logging in (OAuth2 password flow), `/users/me`, and the tokens that must be refused."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import argon2
import httpx
import jwt
import pytest
from sqlalchemy import delete, select

from internal.config import Argon2Profile, Settings
from internal.db.base import utcnow
from internal.db.sync import sync_sessionmaker
from internal.models import User
from internal.services import access_tokens, passwords
from tests.support import PASSWORD, bearer, execute_off_the_loop, log_in, sign_up


async def signed_up(client: httpx.AsyncClient, email: str = "ada@example.com") -> int:
    response = await sign_up(client, email)
    assert response.status_code == 201, response.text
    user_id: int = response.json()["id"]
    return user_id


async def test_login_returns_a_bearer_jwt_for_the_user(client: httpx.AsyncClient, settings: Settings) -> None:
    user_id = await signed_up(client)
    response = await log_in(client, "ada@example.com")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    claims = jwt.decode(body["access_token"], settings.secret_key, algorithms=["HS256"])
    assert claims["sub"] == str(user_id)


async def test_token_expires_after_access_token_minutes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await signed_up(client)
    token = (await log_in(client, "ada@example.com")).json()["access_token"]
    claims = jwt.decode(token, settings.secret_key, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == settings.access_token_minutes * 60


async def test_login_email_is_case_insensitive(client: httpx.AsyncClient) -> None:
    await signed_up(client)
    assert (await log_in(client, "ADA@Example.com")).status_code == 200


async def test_wrong_password_and_unknown_email_get_the_same_401(client: httpx.AsyncClient) -> None:
    await signed_up(client)
    wrong_password = await log_in(client, "ada@example.com", "not the password")
    unknown_email = await log_in(client, "nobody@example.com")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.headers["WWW-Authenticate"] == unknown_email.headers["WWW-Authenticate"] == "Bearer"


async def test_unknown_email_still_runs_an_argon2_check(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str | None] = []
    real_verify = passwords.verify

    def spy(stored: str | None, password: str) -> bool:
        checked.append(stored)
        return real_verify(stored, password)

    monkeypatch.setattr(passwords, "verify", spy)
    assert (await log_in(client, "nobody@example.com")).status_code == 401
    assert checked == [None]


async def test_me_is_the_caller(client: httpx.AsyncClient) -> None:
    user_id = await signed_up(client)
    token = (await log_in(client, "ada@example.com")).json()["access_token"]
    response = await client.get("/api/v1/users/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["id"] == user_id


async def test_me_without_a_token_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_token_signed_with_another_key_is_401(client: httpx.AsyncClient) -> None:
    user_id = await signed_up(client)
    forged = jwt.encode({"sub": str(user_id), "exp": utcnow() + timedelta(minutes=5)}, "another-key" * 4)
    assert (await client.get("/api/v1/users/me", headers=bearer(forged))).status_code == 401


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_unsigned_alg_none_token_is_401(client: httpx.AsyncClient) -> None:
    user_id = await signed_up(client)
    exp = int((utcnow() + timedelta(minutes=5)).timestamp())
    unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment({'sub': str(user_id), 'exp': exp})}."
    assert (await client.get("/api/v1/users/me", headers=bearer(unsigned))).status_code == 401


async def test_expired_token_is_401(client: httpx.AsyncClient, settings: Settings) -> None:
    user_id = await signed_up(client)
    expired = jwt.encode(
        {"sub": str(user_id), "exp": utcnow() - timedelta(seconds=1)}, settings.secret_key, algorithm="HS256"
    )
    assert (await client.get("/api/v1/users/me", headers=bearer(expired))).status_code == 401


async def test_token_without_exp_is_401(client: httpx.AsyncClient, settings: Settings) -> None:
    user_id = await signed_up(client)
    endless = jwt.encode({"sub": str(user_id)}, settings.secret_key, algorithm="HS256")
    assert (await client.get("/api/v1/users/me", headers=bearer(endless))).status_code == 401


async def test_token_of_a_deleted_user_is_401(client: httpx.AsyncClient, settings: Settings) -> None:
    user_id = await signed_up(client)
    token = access_tokens.issue(settings, user_id)
    await execute_off_the_loop(settings, delete(User).where(User.id == user_id))
    assert (await client.get("/api/v1/users/me", headers=bearer(token))).status_code == 401


async def test_garbage_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users/me", headers=bearer("not.a.jwt"))).status_code == 401


async def test_login_form_is_advertised_to_the_docs(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    flows = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/api/v1/auth/token"


async def test_login_with_the_signup_password_only(client: httpx.AsyncClient) -> None:
    await signed_up(client)
    assert (await log_in(client, "ada@example.com", PASSWORD + "x")).status_code == 401


def use_argon2_profile(monkeypatch: pytest.MonkeyPatch, settings: Settings, profile: Argon2Profile) -> None:
    with_profile = settings.model_copy(update={"argon2_profile": profile})
    monkeypatch.setattr(passwords, "get_settings", lambda: with_profile)


@pytest.mark.parametrize("profile", sorted(passwords.PROFILES))
def test_new_hashes_take_the_cost_that_argon2_profile_names(
    real_password_hashes: None, monkeypatch: pytest.MonkeyPatch, settings: Settings, profile: Argon2Profile
) -> None:
    use_argon2_profile(monkeypatch, settings, profile)
    assert argon2.extract_parameters(passwords.hash_password(PASSWORD)) == passwords.PROFILES[profile]


async def test_a_login_remakes_a_hash_of_another_profile_with_the_current_one(
    real_password_hashes: None, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    use_argon2_profile(monkeypatch, settings, "owasp-minimum")
    user_id = await signed_up(client)
    use_argon2_profile(monkeypatch, settings, "rfc9106-low-memory")
    assert (await log_in(client, "ada@example.com")).status_code == 200
    with sync_sessionmaker(settings.sync_database_url)() as session:
        stored = session.scalar(select(User.password_hash).where(User.id == user_id))
    assert stored is not None
    assert argon2.extract_parameters(stored) == passwords.PROFILES["rfc9106-low-memory"]
    assert (await log_in(client, "ada@example.com")).status_code == 200
