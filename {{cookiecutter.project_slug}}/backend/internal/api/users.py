"""Users: open sign-up (which sends the welcome email in the background), the caller, and a user
as the caller may see them."""

from __future__ import annotations

from fastapi import APIRouter, status

from internal.api.deps import CurrentUser, UnitOfWorkDep
from internal.fields import Id
from internal.jobs import outbox
from internal.jobs.send_welcome_email import CONTRACT as SEND_WELCOME_EMAIL
from internal.jobs.send_welcome_email import SendWelcomeEmailInput
from internal.schemas import UserCreate, UserRead, documented
from internal.services import users

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=documented(409))
async def create_user(data: UserCreate, uow: UnitOfWorkDep) -> UserRead:
    user = await users.create_user(uow.session, data)
    outbox.dispatch(uow, SEND_WELCOME_EMAIL, SendWelcomeEmailInput(user_id=user.id))
    return UserRead.model_validate(user)


@router.get("/me")
async def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.get("/{user_id}", responses=documented(404))
async def get_user(user_id: Id, uow: UnitOfWorkDep, viewer: CurrentUser) -> UserRead:
    """The caller themself, or anyone for an admin; any other id is a 404 (its existence is not told)."""
    return UserRead.model_validate(await users.get_user_as(uow.session, viewer, user_id))
