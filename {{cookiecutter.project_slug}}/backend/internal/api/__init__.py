"""HTTP routes. The `api_routers` are included under /api/v1 (API_PREFIX); health routes sit at the root."""

from fastapi import APIRouter

from internal.api import auth, failed_jobs, {% if cookiecutter.task_runner == "temporal" %}orders, {% endif %}users

API_PREFIX = "/api/v1"
api_routers: tuple[APIRouter, ...] = (
    auth.router,
    users.router,
    failed_jobs.router,
{%- if cookiecutter.task_runner == "temporal" %}
    orders.router,
{%- endif %}
)
