"""ORM models. Importing this package registers every table on `Base.metadata` (Alembic relies on it)."""

from internal.models.failed_job import FailedJob
{%- if cookiecutter.task_runner == "temporal" %}
from internal.models.orders import InventoryItem, InventoryReservation, Order, StubPayment
{%- endif %}
from internal.models.user import PasswordReset, User

__all__ = ["FailedJob", "PasswordReset", "User"]
{%- if cookiecutter.task_runner == "temporal" %}
__all__ += ["InventoryItem", "InventoryReservation", "Order", "StubPayment"]
{%- endif %}
