"""Dependencies shared by the routes: the request's unit of work and the job runner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from internal.db.session import UnitOfWork
from internal.jobs.runner import JobRunner


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    async with UnitOfWork.run(request.app.state.sessionmaker) as uow:
        yield uow


def job_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.runner
    return runner


# scope="function": commit (and after-commit dispatch) happen before the response is sent, so a
# client that reads right after a 201 sees its data.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]
JobRunnerDep = Annotated[JobRunner, Depends(job_runner)]
