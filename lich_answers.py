"""The template's answers: what is accepted, and how each value is written into each file format.

The Jinja extension in lich_filters.py (``_extensions`` in cookiecutter.json) makes the writers
filters, so the template files stay plain TOML/Python/Markdown with one filter per value:

- ``toml``: the inside of a TOML basic string (``key = "{{ value | toml }}"``);
- ``py``: the inside of a double-quoted Python string, in a form ruff format keeps;
- ``md``: Markdown text that renders as the answer (punctuation Markdown would read is escaped).

``problems(answers)`` is the one list of rules. It runs twice: while the answers are read (the
private variable ``__validated`` in cookiecutter.json), before cookiecutter creates any directory,
and again in hooks/pre_gen_project.py for runs that skip the prompts (replay files).

Standard library only: both hooks import this module in a fresh interpreter on every bake, and
importing Jinja there would cost more than the rest of the hook.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

TASK_RUNNERS = ("celery", "temporal", "none")
MAX_LENGTH = {"project_name": 60, "project_slug": 40, "description": 300, "author_name": 100, "author_email": 254}
TEXT_ANSWERS = ("project_name", "description", "author_name")
# `PROJECT_NAME = "<name>"` must fit the generated project's 110-column lines once escaped.
MAX_PYTHON_NAME_COLUMNS = 110 - len('PROJECT_NAME = ""')
# A lowercase identifier that is also a valid compose project and Docker image name: no leading,
# trailing or doubled underscores.
SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL_RE = re.compile(rf"^{ATOM}(?:\.{ATOM})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}$")
# Characters no file format here can hold verbatim (or that would hide what the text says).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp", "Co", "Cn"})
# Distributions and top-level modules each variant's backend installs (dependencies and dev tools,
# transitively); a project package of the same name would shadow them. The variant tier checks this
# file against a synced environment.
INSTALLED_NAMES = Path(__file__).parent / "hooks" / "installed_names.json"
ALWAYS_RESERVED = frozenset({"internal", "lich_dev", "tests", "test", "migrations"})


def reserved_slugs(runner: str) -> frozenset[str]:
    installed = json.loads(INSTALLED_NAMES.read_text(encoding="utf-8"))
    return frozenset(installed.get(runner, ())) | ALWAYS_RESERVED | frozenset(sys.stdlib_module_names)


def unrepresentable(value: str) -> str | None:
    """Describe the first character that cannot be written safely, or None."""
    for char in value:
        if char in BIDI_CONTROLS or unicodedata.category(char) in REFUSED_CATEGORIES:
            return f"a control character (U+{ord(char):04X})"
    return None


def suggest_slug(value: str) -> str:
    suggestion = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", value.lower())).strip("_")[:30] or "my_project"
    return suggestion if suggestion[0].isalpha() else f"project_{suggestion}"[:30]


def slug_problem(slug: str, runner: str) -> str | None:
    if not slug:
        return "is empty; type a lowercase identifier such as 'my_shop'."
    if len(slug) > MAX_LENGTH["project_slug"]:
        return f"is longer than {MAX_LENGTH['project_slug']} characters; type e.g. {suggest_slug(slug)!r}."
    if not SLUG_RE.match(slug):
        return (
            "is not a lowercase identifier (letters, digits and single underscores, starting with a "
            f"letter); type e.g. {suggest_slug(slug)!r}."
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        return f"is a Python keyword; type e.g. '{slug}_app'."
    if slug in sys.stdlib_module_names:
        return f"is a standard-library module the project would shadow; type e.g. '{slug}_app'."
    if slug in reserved_slugs(runner):
        return f"is a package the backend installs and would shadow; type e.g. '{slug}_app'."
    return None


def text_problem(field: str, value: str) -> str | None:
    if field == "project_name" and not value.strip():
        return "is empty; type a name, e.g. 'My Shop'."
    if len(value) > MAX_LENGTH[field]:
        return f"is {len(value)} characters long; type at most {MAX_LENGTH[field]}."
    if bad := unrepresentable(value):
        return f"contains {bad}; type it on one line without control characters."
    if field == "project_name" and columns(python_string(value)) > MAX_PYTHON_NAME_COLUMNS:
        return "is too wide for one line of Python once its quotes and backslashes are escaped; type a shorter name."
    if field == "author_name" and "," in value:
        return "contains a comma, which package metadata cannot hold in a name; type it without the comma."
    return None


def columns(text: str) -> int:
    """Display width, as ruff measures line length: wide (e.g. CJK) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def email_problem(value: str) -> str | None:
    if len(value) > MAX_LENGTH["author_email"] or not EMAIL_RE.match(value):
        return "is not an email address; type one like 'you@example.com'."
    return None


def problems(answers: dict[str, Any]) -> list[str]:
    """One message per refused answer, in prompt order, each naming the answer and what to type."""
    found: list[tuple[str, str | None]] = [(field, text_problem(field, str(answers[field]))) for field in TEXT_ANSWERS]
    runner = str(answers.get("task_runner", ""))
    found.insert(1, ("project_slug", slug_problem(str(answers["project_slug"]), runner)))
    found.append(("author_email", email_problem(str(answers["author_email"]))))
    if runner not in TASK_RUNNERS:
        found.append(("task_runner", f"is not supported; type one of: {', '.join(TASK_RUNNERS)}."))
    return [f"{field} {shown(answers[field])} {message}" for field, message in found if message]


def shown(value: Any) -> str:
    """The answer as the message quotes it: escaped, and cut short when long."""
    text = repr(str(value))
    return text if len(text) <= 60 else f"{text[:40]}...' ({len(str(value))} characters)"


# --- writing values into files -----------------------------------------------------------------


def toml_string(value: str) -> str:
    """The inside of a TOML basic string ("..."): JSON's escapes (quote, backslash, \\uXXXX) are TOML's."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def python_string(value: str) -> str:
    """The inside of a double-quoted Python string. A quote is written as \\x22, not \\", so ruff
    format (which swaps to single quotes around a string that holds double quotes) leaves it as is."""
    return value.replace("\\", "\\\\").replace('"', "\\x22")


MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|#])")


def markdown_text(value: str) -> str:
    """Markdown that renders as the answer: backslash-escape the punctuation Markdown acts on."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", value)


def validated(answers: dict[str, Any]) -> str:
    """Refuse bad answers while they are read: cookiecutter has not created the project directory yet,
    so a slug such as ``a/b`` or a 1,000-character one leaves nothing behind."""
    found = problems(answers)
    if found:
        for message in found:
            print(f"ERROR: {message}", file=sys.stderr)
        from cookiecutter.exceptions import FailedHookException

        raise FailedHookException("Stopping: the answer above was refused; nothing was written.")
    return "yes"
