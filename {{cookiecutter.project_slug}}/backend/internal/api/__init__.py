"""HTTP routes. `api_router` is mounted under /api/v1; health routes sit at the root."""

from fastapi import APIRouter

from internal.api import auth, failed_jobs, {% if cookiecutter.task_runner == "temporal" %}orders, {% endif %}users

api_router = APIRouter()
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(failed_jobs.router)
{%- if cookiecutter.task_runner == "temporal" %}
api_router.include_router(orders.router)
{%- endif %}
