"""ORM models. Importing this package registers every table on `Base.metadata` (Alembic relies on it)."""

from internal.models.failed_job import FailedJob
from internal.models.user import User

__all__ = ["FailedJob", "User"]
