"""Validate the answers before anything is rendered.

The rules live in lich_answers.py at the template root, which cookiecutter also loads as a Jinja
extension and which already refused bad answers while they were read (before the project directory
existed). This hook applies the same rules to runs that skip the prompts, such as replay files.
Cookiecutter removes the still-empty project directory when this hook exits non-zero. Each refusal
is one ``ERROR:`` line that names the answer and says what to type instead.
"""

from __future__ import annotations

import json
import sys

# The answers as JSON in a raw string: Jinja's tojson escapes quotes, so any answer is safe here.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
# Where the rules are: the template's root, as the answers extension knows it.
sys.path.insert(0, r"""{{ lich_template_dir }}""")

from lich_answers import problems  # noqa: E402


def main() -> int:
    found = problems(ANSWERS)
    for message in found:
        print(f"ERROR: {message}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
