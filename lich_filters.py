"""The Jinja extension cookiecutter loads (``_extensions`` in cookiecutter.json): the answer writers of
lich_answers.py as filters, the ``validated`` check, and where the template lives (for the hooks)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

from lich_answers import markdown_text, python_string, toml_string, validated


class AnswerFilters(Extension):
    """The answer writers as filters, for the template files (and the ``validated`` check of cookiecutter.json)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(toml=toml_string, py=python_string, md=markdown_text, validated=validated)
        environment.globals["lich_template_dir"] = str(Path(__file__).resolve().parent)
