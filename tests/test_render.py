"""Tier `render`: bake every variant and check the generated tree, without installing anything."""

from __future__ import annotations

import ast
import importlib.resources
import json
import os
import re
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import pytest
import yaml

from tests.helpers import COMPOSE_BASE, COMPOSE_OVERRIDE, RUNNERS, TEMPLATE, bake, compose, dev_compose

pytestmark = pytest.mark.render

SNAPSHOTS = Path(__file__).parent / "snapshots"
BASE_SERVICES = {"db", "migrate", "api"}
DEV_SERVICES = {"mailpit"}
RUNNER_SERVICES = {
    "celery": {"redis", "celery_worker", "celery_beat", "flower"},
    "temporal": {"temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "temporal_worker"},
    "none": set(),
}
ONE_SHOTS = {"migrate", "temporal-schema", "temporal-namespace"}
# Independent of the hook's MANIFEST on purpose: a word that leaks is caught even if the manifest forgot it.
RUNNER_WORDS = {"celery": ("celery", "flower", "redis"), "temporal": ("temporal",), "none": ()}
SECRET_PLACEHOLDER = "change-me"  # noqa: S105
COMPOSE_ONLY_MARKER = "# --- docker compose only"


def files_of(project: Path) -> list[str]:
    return sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""


def env_keys(text: str) -> tuple[list[str], list[str]]:
    """(application keys, compose-only keys) of an .env file, in order."""
    app, compose_only, current = [], [], None
    current = app
    for line in text.splitlines():
        if line.startswith(COMPOSE_ONLY_MARKER):
            current = compose_only
        elif line and not line.startswith("#"):
            current.append(line.split("=", 1)[0])
    return app, compose_only


def settings_fields(project: Path) -> set[str]:
    tree = ast.parse((project / "backend/internal/config.py").read_text())
    [settings] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    return {
        node.target.id
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id != "model_config"
    }


def builtin_schema(name: str) -> dict[str, Any]:
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / f"{name}.json"
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


def schema_errors(document: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


# --- the generated tree ------------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_variant_contains_exactly_its_files(baked: Callable[[str], Path], runner: str) -> None:
    actual = files_of(baked(runner))
    snapshot = SNAPSHOTS / f"files-{runner}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text("\n".join(actual) + "\n")
    expected = snapshot.read_text().split()
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert not missing and not extra, f"missing: {missing}\nunexpected: {extra}"


@pytest.mark.parametrize("runner", RUNNERS)
def test_nothing_of_other_runners_remains_anywhere(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    words = [w for other, ws in RUNNER_WORDS.items() if other != runner for w in ws]
    pattern = re.compile("|".join(words), re.IGNORECASE)
    leftovers = []
    for path in project.rglob("*"):
        relative = str(path.relative_to(project))
        if pattern.search(relative):
            leftovers.append(relative)
        elif path.is_file() and (found := pattern.search(read(path))):
            leftovers.append(f"{relative}: {found.group(0)}")
    assert leftovers == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_no_template_syntax_is_left(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    opening = re.compile(r"\{\{|\{%|\{#")
    assert [str(p.relative_to(project)) for p in project.rglob("*") if p.is_file() and opening.search(read(p))] == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_pyproject_records_the_runner(baked: Callable[[str], Path], runner: str) -> None:
    import tomllib

    pyproject = tomllib.loads((baked(runner) / "backend/pyproject.toml").read_text())
    assert pyproject["tool"]["lich"]["task_runner"] == runner
    assert pyproject["project"]["scripts"]["lich"] == "internal.cli:main"


# --- docker compose ----------------------------------------------------------------------------


def shapes(project: Path) -> dict[str, dict[str, Any]]:
    """Each compose document a user runs: production (the base file), the override, and the dev stack."""
    return {
        "production": compose(project),
        "override": compose(project, COMPOSE_OVERRIDE),
        "development": dev_compose(project),
    }


@pytest.mark.parametrize("runner", RUNNERS)
def test_compose_has_exactly_the_variants_services(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    assert set(compose(project)["services"]) == BASE_SERVICES | RUNNER_SERVICES[runner]
    assert set(dev_compose(project)["services"]) == BASE_SERVICES | DEV_SERVICES | RUNNER_SERVICES[runner]


@pytest.mark.parametrize("runner", RUNNERS)
def test_compose_files_and_their_merge_validate_against_the_compose_specification(
    baked: Callable[[str], Path], runner: str
) -> None:
    for shape, document in shapes(baked(runner)).items():
        assert schema_errors(document, builtin_schema("compose-spec")) == [], shape


@pytest.mark.parametrize("runner", RUNNERS)
def test_compose_references_resolve(baked: Callable[[str], Path], runner: str) -> None:
    for shape in ("production", "development"):
        spec = shapes(baked(runner))[shape]
        services, volumes = set(spec["services"]), set(spec.get("volumes") or {})
        used_volumes = set()
        for name, service in spec["services"].items():
            for dependency, condition in (service.get("depends_on") or {}).items():
                assert dependency in services, f"{shape}: {name} depends on missing {dependency}"
                expected = "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
                assert condition == {"condition": expected}, f"{shape}: {name} -> {dependency}: {condition}"
            for mount in service.get("volumes") or []:
                source = mount.split(":", 1)[0]
                if not source.startswith((".", "/")):
                    used_volumes.add(source)
        assert used_volumes == volumes, shape


@pytest.mark.parametrize("runner", RUNNERS)
def test_every_long_running_service_is_health_checked_and_pinned(baked: Callable[[str], Path], runner: str) -> None:
    for shape in ("production", "development"):
        for name, service in shapes(baked(runner))[shape]["services"].items():
            healthcheck = service.get("healthcheck") or {}
            if name in ONE_SHOTS:
                assert service["restart"] == "no", f"{shape}: {name}"
                continue
            assert healthcheck.get("test") and not healthcheck.get("disable"), f"{shape}: {name} has no healthcheck"
            image = service["image"]
            if "build" not in service:
                tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
                assert tag and tag != "latest", f"{shape}: {name} image {image} is not pinned"


@pytest.mark.parametrize("runner", RUNNERS)
def test_production_publishes_only_the_api(baked: Callable[[str], Path], runner: str) -> None:
    for name, service in compose(baked(runner))["services"].items():
        ports = [str(port) for port in service.get("ports") or []]
        if name == "api":
            assert ports == ["8000:8000"]
        elif ports:
            # Opt-in operator UIs: only with `--profile ops`, and only on the host's loopback.
            assert service.get("profiles") == ["ops"], f"{name} is published by default"
            assert all(port.startswith("127.0.0.1:") for port in ports), f"{name}: {ports}"


@pytest.mark.parametrize("runner", RUNNERS)
def test_production_has_no_dev_mail_no_dev_server_and_no_root_user(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    production = compose(project)
    assert "mailpit" not in production["services"]
    assert all("mailpit" not in json.dumps(service) for service in production["services"].values())
    assert "start-dev" not in json.dumps(production)
    assert production["x-backend"]["environment"]["ENVIRONMENT"] == "production"
    for name, service in production["services"].items():
        assert str(service.get("user", "")).split(":")[0] not in {"0", "root"}, f"{name} runs as root"
    for name in {"db", "redis"} & set(production["services"]):
        assert production["services"][name]["user"] not in {"", "0", "root"}, f"{name} has no non-root user"


@pytest.mark.parametrize("runner", RUNNERS)
def test_override_publishes_only_on_loopback(baked: Callable[[str], Path], runner: str) -> None:
    for name, service in compose(baked(runner), COMPOSE_OVERRIDE)["services"].items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


@pytest.mark.parametrize("runner", RUNNERS)
def test_dev_stack_is_development_with_mailpit(baked: Callable[[str], Path], runner: str) -> None:
    services = dev_compose(baked(runner))["services"]
    for name, service in services.items():
        if "build" in service:
            environment = service["environment"]
            assert environment["ENVIRONMENT"] == "development", name
            assert environment["SMTP_HOST"] == "mailpit", name
            assert "develop" in service or name == "migrate" or name == "flower" or name == "celery_beat", name
    assert "profiles" not in services.get("flower", {}) or services["flower"]["profiles"] == []
    if runner == "temporal":
        assert "start-dev" in services["temporal"]["command"]


@pytest.mark.parametrize("runner", RUNNERS)
def test_workers_can_be_scaled(baked: Callable[[str], Path], runner: str) -> None:
    for shape in ("production", "development"):
        for name, service in shapes(baked(runner))[shape]["services"].items():
            assert "container_name" not in service, f"{shape}: {name}"
            if name.endswith("_worker"):
                assert not service.get("ports"), f"{shape}: {name} publishes a port"


@pytest.mark.parametrize("runner", RUNNERS)
def test_compose_variables_are_defined_in_env_example(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    text = (project / COMPOSE_BASE).read_text() + (project / COMPOSE_OVERRIDE).read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    app, compose_only = env_keys((project / ".env.example").read_text())
    assert used <= set(app) | set(compose_only)
    assert set(compose_only) <= used, "compose-only keys must be used by the compose files"


# --- settings and secrets ----------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_env_example_lists_exactly_the_settings(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    app, _ = env_keys((project / ".env.example").read_text())
    assert len(app) == len(set(app)), "duplicate keys"
    assert set(app) == {field.upper() for field in settings_fields(project)}


@pytest.mark.parametrize("runner", RUNNERS)
def test_env_has_fresh_secrets_and_the_same_keys(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    example = (project / ".env.example").read_text()
    env = dict(
        line.split("=", 1)
        for line in (project / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert env_keys(example) == env_keys((project / ".env").read_text())
    for key in (
        "SECRET_KEY",
        "POSTGRES_PASSWORD",
        "FIRST_ADMIN_PASSWORD",
        *(("FLOWER_PASSWORD",) if runner == "celery" else ()),
    ):
        assert env[key] != SECRET_PLACEHOLDER and len(env[key]) >= 32
        assert f"{key}={SECRET_PLACEHOLDER}" in example
    assert ".env\n" in (project / ".gitignore").read_text()


def test_each_bake_gets_its_own_secrets(tmp_path: Path) -> None:
    first = bake(tmp_path / "a", task_runner="none")
    second = bake(tmp_path / "b", task_runner="none")
    assert (first / ".env").read_text() != (second / ".env").read_text()


# --- CI workflow and README --------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_ci_workflow_is_valid_and_runs_lint_types_and_tests(baked: Callable[[str], Path], runner: str) -> None:
    workflow = yaml.safe_load((baked(runner) / ".github/workflows/ci.yml").read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    assert schema_errors(workflow, builtin_schema("github-workflows")) == []
    steps = " ".join(step.get("run", "") for step in workflow["jobs"]["test"]["steps"])
    assert "make lint" in steps and "make test" in steps
    makefile = (baked(runner) / "Makefile").read_text()
    for command in ("ruff check", "mypy", "pytest --cov"):
        assert command in makefile


@pytest.mark.parametrize("runner", RUNNERS)
def test_ci_brings_the_dev_stack_up_and_waits_for_the_welcome_email(baked: Callable[[str], Path], runner: str) -> None:
    workflow = yaml.safe_load((baked(runner) / ".github/workflows/ci.yml").read_text())
    steps = [step.get("run", "") for step in workflow["jobs"]["stack"]["steps"]]
    assert any("docker compose up --build --wait" in run for run in steps)
    assert any("/api/v1/users" in run and "8025/api/v1/search" in run for run in steps)
    assert steps[-1] == "docker compose down -v"
    assert workflow["jobs"]["stack"]["steps"][-1]["if"] == "always()"


@pytest.mark.parametrize("runner", RUNNERS)
def test_readme_opens_with_run_and_test_commands(baked: Callable[[str], Path], runner: str) -> None:
    readme = (baked(runner) / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["docker compose up --wait", "make test"]


@pytest.mark.parametrize("runner", RUNNERS)
def test_readme_names_every_compose_service(baked: Callable[[str], Path], runner: str) -> None:
    project = baked(runner)
    readme = (project / "README.md").read_text()
    for service in dev_compose(project)["services"]:
        assert f"`{service}`" in readme


@pytest.mark.parametrize("runner", RUNNERS)
def test_makefile_has_the_documented_targets(baked: Callable[[str], Path], runner: str) -> None:
    makefile = (baked(runner) / "Makefile").read_text()
    for target in ("dev", "test", "lint", "fmt", "migrate", "up", "down"):
        assert re.search(rf"^{target}:", makefile, re.M), target


@pytest.mark.parametrize("runner", RUNNERS)
def test_generated_python_parses(baked: Callable[[str], Path], runner: str) -> None:
    for source in (baked(runner) / "backend").rglob("*.py"):
        ast.parse(source.read_text(), filename=str(source))


# --- answers -----------------------------------------------------------------------------------


def test_unicode_project_name_derives_a_valid_slug(tmp_path: Path) -> None:
    project = bake(tmp_path, project_name="Café Ünïcode Shop", task_runner="none")
    assert project.name == "cafe_unicode_shop"
    assert "Café Ünïcode Shop" in (project / "README.md").read_text()


# Answers a user could type, each written into TOML, Python and Markdown. Jinja's delimiters come
# through `{% raw %}` because cookiecutter renders --no-input answers; typed ones reach us verbatim.


def raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}"


LEGAL_ANSWERS = [
    {"project_name": "O'Brien's Shop", "author_name": "Seán O'Brien"},
    {"project_name": "José Müller GmbH", "author_name": "José Müller", "description": "Café — naïve façade ✓"},
    {"project_name": 'The "Quoted" Shop', "description": 'He said "hi" and left'},
    {"project_name": "Back\\slash\\", "description": "ends in a backslash \\"},
    {"project_name": "Mixed 'single' \"double\" \\", "author_name": "A \"B\" 'C' \\ D"},
    {"project_name": raw("{{ shop }}"), "description": raw("{% if %} {# x #} {{ cookiecutter }}")},
    {"project_name": "x = 1 # not a comment", "description": "[table]\nkey = 'no newline here'".replace("\n", " ")},
    {"project_name": "<script>alert(1)</script>", "description": "*bold* _it_ `code` [link](x) | pipe"},
    {"project_name": "Temporal Celery Redis", "task_runner": "none"},
    {"project_name": "東京ショップ" * 7 + "東京"},
    {"author_email": "o'brien+shop@sub.example.co.uk", "author_name": "Zoë"},
    {"description": "x" * 300},
]


def expected(answers: dict[str, str]) -> dict[str, str]:
    values = {"project_name": "My Shop", "description": BAKE_DESCRIPTION, "author_name": "Your Name"}
    values["author_email"] = "you@example.com"
    values.update({key: value.replace("{% raw %}", "").replace("{% endraw %}", "") for key, value in answers.items()})
    return values


BAKE_DESCRIPTION = json.loads((TEMPLATE / "cookiecutter.json").read_text())["description"]


@pytest.mark.parametrize("answers", LEGAL_ANSWERS, ids=range(len(LEGAL_ANSWERS)))
def test_legal_answer_bakes_a_project_whose_files_parse_and_hold_it_verbatim(
    tmp_path: Path, answers: dict[str, str]
) -> None:
    import tomllib

    project = bake(tmp_path, **{"task_runner": "none", "project_slug": "shop", **answers})
    want = expected(answers)
    for path in project.rglob("*"):
        if path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in {".yml", ".yaml"}:
            list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        elif path.suffix == ".py":
            ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    metadata = tomllib.loads((project / "backend/pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert metadata["description"] == want["description"]
    assert metadata["authors"] == [{"name": want["author_name"], "email": want["author_email"]}]
    package = ast.parse((project / "backend/internal/__init__.py").read_text(encoding="utf-8"))
    [assignment] = [node for node in package.body if isinstance(node, ast.Assign)]
    assert ast.literal_eval(assignment.value) == want["project_name"]


def test_legal_answers_are_written_in_the_quotes_ruff_format_keeps(tmp_path: Path) -> None:
    project = bake(tmp_path, task_runner="none", project_name='Say "hi"', project_slug="shop")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--diff", "backend/internal/__init__.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_shows_markdown_characters_of_an_answer_as_text(tmp_path: Path) -> None:
    project = bake(tmp_path, task_runner="none", project_name="<b>*Shop*</b>", project_slug="shop")
    assert (project / "README.md").read_text(encoding="utf-8").startswith("# \\<b\\>\\*Shop\\*\\</b\\>\n")


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"project_slug": ""}, "project_slug"),
        ({"project_slug": "123shop"}, "project_slug"),
        ({"project_slug": "class"}, "project_slug"),
        ({"project_slug": "match"}, "project_slug"),
        ({"project_slug": "my-shop"}, "project_slug"),
        ({"project_slug": "MyShop"}, "project_slug"),
        ({"project_slug": "_shop"}, "project_slug"),
        ({"project_slug": "shop__x"}, "project_slug"),
        ({"project_slug": "a/b"}, "project_slug"),
        ({"project_slug": "../escape"}, "project_slug"),
        ({"project_slug": "/abs_slug"}, "project_slug"),
        ({"project_slug": "a" * 1000}, "project_slug"),
        ({"project_slug": "fastapi"}, "project_slug"),
        ({"project_slug": "anyio"}, "project_slug"),
        ({"project_slug": "psycopg"}, "project_slug"),
        ({"project_slug": "pydantic_settings"}, "project_slug"),
        ({"project_slug": "starlette"}, "project_slug"),
        ({"project_slug": "pytest"}, "project_slug"),
        ({"project_slug": "kombu", "task_runner": "celery"}, "project_slug"),
        ({"project_slug": "temporalio", "task_runner": "temporal"}, "project_slug"),
        ({"project_slug": "json"}, "project_slug"),
        ({"project_slug": "internal"}, "project_slug"),
        ({"project_slug": "lich_dev"}, "project_slug"),
        ({"project_name": ""}, "project_name"),
        ({"project_name": "   "}, "project_name"),
        ({"project_name": "x" * 1000, "project_slug": "shop"}, "project_name"),
        ({"project_name": '"' * 30, "project_slug": "shop"}, "project_name"),
        ({"project_name": "two\nlines", "project_slug": "shop"}, "project_name"),
        ({"project_name": "bell\x07", "project_slug": "shop"}, "project_name"),
        ({"project_name": "evil\u202eoverride", "project_slug": "shop"}, "project_name"),
        ({"description": "x" * 1000}, "description"),
        ({"description": "tab\tand\rreturn"}, "description"),
        ({"author_name": "Doe, John"}, "author_name"),
        ({"author_name": "y" * 1000}, "author_name"),
        ({"author_email": "not-an-email"}, "author_email"),
        ({"author_email": "a@b"}, "author_email"),
        ({"author_email": 'x"}]#@a.bc'}, "author_email"),
        ({"author_email": "a b@example.com"}, "author_email"),
        ({"author_email": "x@example.com\nmore"}, "author_email"),
        ({"author_email": "a" * 1000 + "@example.com"}, "author_email"),
    ],
)
def test_bad_answer_is_refused_with_one_clear_line_and_nothing_written(
    tmp_path: Path, answers: dict[str, str], field: str
) -> None:
    result = run_cookiecutter(tmp_path, answers)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ") and "Stopping" not in line]
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: {field} "), result.stderr
    assert "type" in errors[0]
    assert list(tmp_path.iterdir()) == []
    assert not Path("/abs_slug").exists()


def test_replayed_bad_answer_is_refused_by_the_pre_gen_hook_and_nothing_written(tmp_path: Path) -> None:
    """A replay file skips the prompts (and the check while they are read): the hook still refuses."""
    answers = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    answers = {
        key: value[0] if isinstance(value, list) and not key.startswith("_") else value
        for key, value in answers.items()
        if key != "__prompts__"
    }
    answers.update(project_slug="shop", author_email='x"}]#@a.bc', __validated="yes")
    replay = tmp_path / "replay.json"
    replay.write_text(json.dumps({"cookiecutter": answers, "_cookiecutter": answers}))
    output = tmp_path / "out"
    output.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--replay-file", str(replay), "-o", str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ERROR: author_email 'x\"}]#@a.bc' is not an email address" in result.stderr
    assert list(output.iterdir()) == []


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"task_runner": "rq"}, "rq provided for choice variable task_runner"),
        ({"python_version": "3.9"}, "3.9 provided for choice variable python_version"),
    ],
)
def test_answer_cookiecutter_itself_refuses_writes_nothing(
    tmp_path: Path, answers: dict[str, str], message: str
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    result = run_cookiecutter(output, answers)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert list(output.iterdir()) == []


def run_cookiecutter(output: Path, answers: dict[str, str]) -> subprocess.CompletedProcess[str]:
    arguments = [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--no-input", "-o", str(output), *arguments],
        stdin=subprocess.DEVNULL,  # a refused answer must never turn into a prompt that waits
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the hook's manifest -----------------------------------------------------------------------


def load_post_gen_hook(runner: str = "none") -> dict[str, Any]:
    answers = {
        "task_runner": runner,
        "project_name": "x",
        "project_slug": "x",
        "description": "",
        "author_name": "",
        "author_email": "x@example.com",
    }
    source = jinja2.Template((TEMPLATE / "hooks/post_gen_project.py").read_text()).render(
        cookiecutter=answers, lich_template_dir=str(TEMPLATE)
    )
    module = types.ModuleType("post_gen_project")
    sys.modules[module.__name__] = module  # dataclasses resolve annotations through sys.modules
    exec(compile(source, "post_gen_project.py", "exec"), module.__dict__)  # noqa: S102
    return module.__dict__


def test_manifest_names_only_things_the_template_has() -> None:
    manifest = load_post_gen_hook()["MANIFEST"]
    project = TEMPLATE / "{{cookiecutter.project_slug}}"
    compose_text = (project / COMPOSE_BASE).read_text() + (project / COMPOSE_OVERRIDE).read_text()
    env_text = (project / ".env.example").read_text()
    pyproject_text = (project / "backend/pyproject.toml").read_text()
    assert set(manifest) == set(RUNNERS)
    for runner, owned in manifest.items():
        for path in owned.paths:
            assert (project / path).exists(), f"{runner}: {path}"
        for service in owned.compose_services:
            assert f"\n  {service}:\n" in compose_text, f"{runner}: service {service}"
        for volume in owned.compose_volumes:
            assert f"\n  {volume}:" in compose_text, f"{runner}: volume {volume}"
        for key in owned.env_keys:
            assert f"\n{key}=" in env_text, f"{runner}: env key {key}"
        for dependency in owned.dependencies:
            assert f'"{dependency}' in pyproject_text, f"{runner}: dependency {dependency}"


def test_manifest_runners_own_disjoint_things() -> None:
    manifest = load_post_gen_hook()["MANIFEST"]
    for field in ("paths", "compose_services", "compose_volumes", "env_keys", "dependencies", "words"):
        owned = [item for runner in manifest.values() for item in getattr(runner, field)]
        assert len(owned) == len(set(owned)), field


def test_hook_refuses_a_project_with_a_dangling_compose_reference(tmp_path: Path) -> None:
    hook = load_post_gen_hook("none")
    project = bake(tmp_path, task_runner="none")
    compose_file = project / COMPOSE_OVERRIDE
    compose_file.write_text(
        compose_file.read_text().replace("      mailpit:\n        condition", "      ghost:\n        condition")
    )
    assert any("ghost" in problem for problem in hook["consistency_problems"](project, "none"))


def test_hook_refuses_a_leftover_of_another_runner(tmp_path: Path) -> None:
    hook = load_post_gen_hook("none")
    project = bake(tmp_path, task_runner="none")
    (project / "backend/internal/stray.py").write_text("# wired to celery\n")
    assert any("celery" in problem for problem in hook["consistency_problems"](project, "none"))


def test_hook_refuses_an_import_of_a_developer_module_that_is_not_there(tmp_path: Path) -> None:
    hook = load_post_gen_hook("none")
    project = bake(tmp_path, task_runner="none")
    (project / "backend/lich_dev/stray.py").write_text("from lich_dev.ghost import haunt\n")
    assert any("lich_dev.ghost" in problem for problem in hook["consistency_problems"](project, "none"))
