"""Tier `variant`: a project made from an earlier template commit takes the current template with
`cruft update`: exit 0, no rejected hunk, its secrets kept, and its own tests still pass.

The earlier commit is a fixture: the test copies the working tree into a fresh git repository and
commits it twice, first as an older template (a README section, a setting and a make target that
came later are missing), then as it is.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import TEMPLATE, project_env
from tests.test_variant import run

pytestmark = pytest.mark.variant

SLUG_DIR = "{{cookiecutter.project_slug}}"
LOCAL_ONLY = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".*_cache", "node_modules")


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    return run(["git", *identity, *args], cwd)


def make_older(template: Path) -> None:
    """Turn the copy into what an earlier template commit plausibly was."""
    project = template / SLUG_DIR
    readme = project / "README.md"
    text = readme.read_text()
    readme.write_text(re.sub(r"## Updating from the template\n.*?(?=\n## )", "", text, flags=re.S))
    env_example = project / ".env.example"
    env_example.write_text(env_example.read_text().replace("MAIL_FROM=noreply@example.com\n", ""))
    makefile = project / "Makefile"
    makefile.write_text(re.sub(r"\nmigrate:\n\t[^\n]*\n", "\n", makefile.read_text()))


def template_with_history(tmp_path: Path) -> tuple[Path, str]:
    """A git copy of the working tree whose HEAD is the working tree and HEAD~1 an older template."""
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template, ignore=LOCAL_ONLY)
    git(template, "init", "--quiet", "--initial-branch=main")
    current = {path: path.read_bytes() for path in (template / SLUG_DIR).rglob("*") if path.is_file()}
    make_older(template)
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", "older template")
    older = git(template, "rev-parse", "HEAD").strip()
    for path, content in current.items():
        path.write_bytes(content)
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", "current template")
    return template, older


def test_cruft_update_from_an_older_template_applies_cleanly_and_the_tests_pass(
    tmp_path: Path, fresh_database: Callable[[str], str]
) -> None:
    template, older = template_with_history(tmp_path)
    cruft = str(Path(sys.executable).parent / "cruft")
    out = tmp_path / "projects"
    run(
        [
            cruft,
            "create",
            str(template),
            "--checkout",
            older,
            "--no-input",
            "--output-dir",
            str(out),
            "--extra-context",
            '{"project_name": "Lich Shop", "task_runner": "none"}',
        ],
        tmp_path,
    )
    project = out / "lich_shop"
    assert "MAIL_FROM" not in (project / ".env").read_text()
    secrets = (project / ".env").read_text()
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "created")

    # --exit-code: non-zero on any difference (the hook's next-steps note is all it prints).
    assert "diff --git" not in run([cruft, "diff", "--exit-code"], project)
    run([cruft, "update", "--skip-apply-ask"], project)

    assert sorted(str(p.relative_to(project)) for p in project.rglob("*.rej")) == []
    assert "## Updating from the template" in (project / "README.md").read_text()
    assert "MAIL_FROM=" in (project / ".env.example").read_text()
    assert re.search(r"^migrate:", (project / "Makefile").read_text(), re.M)
    assert (project / ".env").read_text() == secrets
    run([cruft, "check"], project)
    assert "diff --git" not in run([cruft, "diff", "--exit-code"], project)

    backend = project / "backend"
    run(["uv", "lock", "--quiet"], backend)
    run(["uv", "sync", "--locked", "--quiet"], backend)
    env = project_env(TEST_DATABASE_URL=fresh_database("lich_test_cruft_update"))
    output = run(["make", "test"], project, env=env)
    [summary] = re.findall(r"^=* ?(\d+ passed.*?)(?: =*)?$", output, re.M)[-1:]
    assert "failed" not in summary and "skipped" not in summary and "error" not in summary, summary
