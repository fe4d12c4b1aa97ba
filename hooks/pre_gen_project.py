"""Validate the answers before anything is written.

Cookiecutter removes the half-made project directory when this hook exits non-zero, so a refused
answer leaves nothing behind. Each refusal is one line that says what to type instead.
"""

from __future__ import annotations

import json
import keyword
import re
import sys

# The answers as JSON in a raw string: Jinja's tojson escapes quotes, so any answer is safe here.
ANSWERS: dict[str, str] = json.loads(r"""{{ cookiecutter | tojson }}""")

TASK_RUNNERS = ("celery", "temporal", "none")
PYTHON_VERSIONS = ("3.11", "3.12", "3.13", "3.14")
# Names the generated backend imports; a project package of the same name would shadow them.
RESERVED_SLUGS = frozenset(
    {
        "internal",
        "tests",
        "test",
        "app",
        "fastapi",
        "sqlalchemy",
        "alembic",
        "pydantic",
        "celery",
        "kombu",
        "redis",
        "flower",
        "temporalio",
        "uvicorn",
        "httpx",
        "email",
    }
)
# Generated code renders the name into Python and TOML lines; longer names would break line limits.
MAX_NAME_LENGTH = 60
SLUG_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
UNSAFE_TEXT_RE = re.compile(r'["\\\n\r{}]')


def problems(answers: dict[str, str]) -> list[str]:
    """Return one message per invalid answer, in prompt order."""
    found: list[str] = []
    for field in ("project_name", "description", "author_name"):
        value = answers[field]
        if field != "description" and not value.strip():
            found.append(f"{field} is empty; type a name, e.g. 'My Shop'.")
        elif field == "project_name" and len(value) > MAX_NAME_LENGTH:
            found.append(f"project_name is longer than {MAX_NAME_LENGTH} characters; type a shorter name.")
        elif UNSAFE_TEXT_RE.search(value):
            found.append(
                f"{field} {value!r} contains a quote, backslash, brace or line break; type it without those characters."
            )
    slug = answers["project_slug"]
    if not slug:
        found.append("project_slug is empty; type a lowercase identifier such as 'my_shop'.")
    elif keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        found.append(f"project_slug {slug!r} is a Python keyword; type e.g. '{slug}_app'.")
    elif not SLUG_RE.match(slug):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", slug.lower()).strip("_") or "my_project"
        if suggestion[0].isdigit():
            suggestion = f"project_{suggestion}"
        found.append(
            f"project_slug {slug!r} is not a lowercase Python identifier (letters, digits and "
            f"underscores, not starting with a digit); type e.g. {suggestion!r}."
        )
    elif len(slug) > MAX_NAME_LENGTH:
        found.append(f"project_slug is longer than {MAX_NAME_LENGTH} characters; type e.g. {slug[:30]!r}.")
    elif slug in RESERVED_SLUGS:
        found.append(f"project_slug {slug!r} would shadow a package the backend imports; type e.g. '{slug}_app'.")
    if not EMAIL_RE.match(answers["author_email"]):
        found.append(f"author_email {answers['author_email']!r} is not an email address; type e.g. 'you@example.com'.")
    if answers["task_runner"] not in TASK_RUNNERS:
        found.append(
            f"task_runner {answers['task_runner']!r} is not supported; type one of: {', '.join(TASK_RUNNERS)}."
        )
    if answers["python_version"] not in PYTHON_VERSIONS:
        found.append(
            f"python_version {answers['python_version']!r} is not supported; type one of: {', '.join(PYTHON_VERSIONS)}."
        )
    return found


def main() -> int:
    found = problems(ANSWERS)
    for message in found:
        print(f"ERROR: {message}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
