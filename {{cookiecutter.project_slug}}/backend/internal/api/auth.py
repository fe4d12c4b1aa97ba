"""Logging in (OAuth2 password flow) and resetting a forgotten password by email."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from internal.api.deps import SettingsDep, UnitOfWorkDep
from internal.jobs import outbox
from internal.jobs.send_password_reset_email import CONTRACT as SEND_PASSWORD_RESET_EMAIL
from internal.jobs.send_password_reset_email import SendPasswordResetEmailInput
from internal.schemas import AccessToken, PasswordResetConfirm, PasswordResetRequest, documented
from internal.services import access_tokens, password_reset, users

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", responses=documented(401))
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], uow: UnitOfWorkDep, settings: SettingsDep
) -> AccessToken:
    """Form fields `username` (the email) and `password`; 401 for a wrong email or password alike."""
    user = await users.authenticate(uow.session, form.username, form.password)
    return AccessToken(access_token=access_tokens.issue(settings, user.id))


@router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED)
async def request_password_reset(
    data: PasswordResetRequest, uow: UnitOfWorkDep, settings: SettingsDep
) -> dict[str, str]:
    """Always 202, whether or not the email has an account; if it has, the reset email is on its way."""
    reset_id = await password_reset.request_reset(uow.session, settings, data.email)
    if reset_id is not None:
        outbox.dispatch(uow, SEND_PASSWORD_RESET_EMAIL, SendPasswordResetEmailInput(reset_id=reset_id))
    return {"status": "accepted"}


@router.post("/password-reset/confirm")
async def confirm_password_reset(data: PasswordResetConfirm, uow: UnitOfWorkDep) -> dict[str, str]:
    """Set a new password with the emailed token; 400 if the token is unknown, used or expired."""
    await password_reset.confirm_reset(uow.session, data.token, data.password)
    return {"status": "password changed"}
