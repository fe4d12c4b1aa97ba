"""The bare baseline of the API benchmarks: FastAPI, async SQLAlchemy and uvicorn, nothing else.

    uvicorn baseline_app:app   (run from the baked project's venv, so every library is the same version)

It is written the way FastAPI's own SQL and OAuth2 tutorials write an app: a session dependency with
`yield`, a mapped `User` class read with `session.get`, an `OAuth2PasswordBearer` dependency that
decodes the JWT and loads the caller, and pydantic response models. It answers the requests the
benchmarks send the template's API, doing the work any app must do to give the same answer:

- `GET /health`: `{"status": "ok"}`;
- `GET /api/v1/users/{id}` with a bearer token: decode the JWT (HS256, SECRET_KEY), load the caller,
  answer with their record when it is the one asked for;
- `POST /api/v1/users`: validate the body, hash the password with Argon2 (argon2-cffi's default
  parameters, the template's) in a worker thread as the template does, INSERT the row and commit.

Same driver (the one DATABASE_URL names: psycopg), the same pool (SQLAlchemy's default size), the same
database and the same `users` table. What the template does on top (request ids and security headers,
the body-size limit, JSON 500s, the unit of work, the duplicate-email check and the outbox row of a
sign-up) is what the benchmarks price.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import anyio.to_thread
import jwt
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, ConfigDict, EmailStr
from sqlalchemy import DateTime, String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SECRET_KEY = os.environ["SECRET_KEY"]
engine = create_async_engine(os.environ["DATABASE_URL"])
sessions = async_sessionmaker(engine, expire_on_commit=False)
hasher = PasswordHasher()
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))
    welcome_email_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)


class UserIn(BaseModel):
    email: EmailStr
    name: str
    password: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    created_at: datetime
    welcome_email_sent_at: datetime | None
    is_admin: bool


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def current_user(token: Annotated[str, Depends(oauth2_scheme)], session: SessionDep) -> User:
    claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    user = await session.get(User, int(claims["sub"]))
    if user is None:
        raise HTTPException(401)
    return user


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/v1/users/{user_id}")
async def read_user(user_id: int, user: Annotated[User, Depends(current_user)]) -> UserOut:
    if user.id != user_id:
        raise HTTPException(404)
    return UserOut.model_validate(user)


@app.post("/api/v1/users", status_code=201)
async def create_user(data: UserIn, session: SessionDep) -> UserOut:
    password_hash = await anyio.to_thread.run_sync(hasher.hash, data.password)
    user = User(email=data.email.lower(), name=data.name, password_hash=password_hash)
    session.add(user)
    await session.commit()
    return UserOut.model_validate(user)
