"""Dependencies shared by the routes: the request's unit of work, the job runner, the settings, and
who is calling (`CurrentUser`, `AdminUser`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from internal.config import Settings
from internal.db.session import UnitOfWork
from internal.errors import Forbidden, NotAuthenticated
from internal.jobs.runner import JobRunner
from internal.models import User
from internal.services import access_tokens

# auto_error=False: a missing token goes through our 401 (with WWW-Authenticate), like a bad one.
# tokenUrl is what /docs "Authorize" posts the login form to.
bearer_token = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork.run(request.app.state.sessionmaker) as uow:
        yield uow


# The dependencies below are `async def` although they do not await: FastAPI runs a plain `def`
# dependency in a worker thread, a thread hop per request for a mere attribute read.
async def job_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.runner
    return runner


async def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": commit (and after-commit dispatch) happen before the response is sent, so a
# client that reads right after a 201 sees its data.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]
JobRunnerDep = Annotated[JobRunner, Depends(job_runner)]
SettingsDep = Annotated[Settings, Depends(app_settings)]


async def current_user(
    uow: UnitOfWorkDep, settings: SettingsDep, token: Annotated[str | None, Depends(bearer_token)]
) -> User:
    """The user a valid bearer token names, loaded in the request's own session; else 401."""
    if not token:
        raise NotAuthenticated("not authenticated")
    user = await uow.session.get(User, access_tokens.user_id_of(settings, token))
    if user is None:
        raise NotAuthenticated("invalid or expired token")
    return user


CurrentUser = Annotated[User, Depends(current_user, scope="function")]


async def admin_user(user: CurrentUser) -> User:
    """The caller, who must be an admin (403 otherwise)."""
    if not user.is_admin:
        raise Forbidden("admins only")
    return user


AdminUser = Annotated[User, Depends(admin_user, scope="function")]
# For routers whose every route is admin-only: `APIRouter(dependencies=[RequireAdmin])`.
RequireAdmin = Depends(admin_user, scope="function")
