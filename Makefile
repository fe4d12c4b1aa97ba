.PHONY: test test-render test-variant test-e2e test-cli test-crash test-fuzz lint bench bench-quick lock lock-upgrade

## Every tier (render, variant, e2e, cli, crash, fuzz) against real services: what CI runs. Three
## pytest-xdist workers: most of the time goes to waiting on workers, brokers and SMTP, so modules run
## side by side, the longest first; the tests of one module stay in one worker, in order (they share
## services; tests/conftest.py).
test:
	uv run pytest -n 3 --dist loadscope --no-loadscope-reorder --durations=15

## The fast tier: bake every variant and check the trees (about a minute of CPU, one process per
## core: each bakes its own trees).
test-render:
	uv run pytest -m render -n auto

test-variant:
	uv run pytest -m variant

test-e2e:
	uv run pytest -m e2e

test-cli:
	uv run pytest -m cli

## Killed workers and APIs, broker and database outages, per runner: 0 jobs lost, duplicates counted.
test-crash:
	uv run pytest -m crash

## Schemathesis against each variant's running API (fixed seed and budget).
test-fuzz:
	uv run pytest -m fuzz

## Lint the template's own code, and the generated backend's sources as they stand in the template
## (files with a Jinja block are linted after rendering, by the variant tier).
lint:
	uv run ruff check . && uv run ruff format --check .
	cd '{{cookiecutter.project_slug}}/backend' && plain=$$(grep -rL --include='*.py' '{%' .) && \
	  uv run --project ../.. ruff check --no-cache --extend-ignore N999 $$plain && \
	  uv run --project ../.. ruff format --no-cache --check $$plain

## One table of ratios against bare baselines measured in the same run (bake, HTTP, database, memory,
## jobs per runner), written to benchmarks/RESULTS.md. `make bench-quick` only proves it runs.
bench:
	uv run python benchmarks/run.py

bench-quick:
	uv run python benchmarks/run.py --quick

## Regenerate each variant's stored uv.lock after any change to the generated pyproject.toml
## (unchanged requirements keep their versions); lock-upgrade moves everything to the newest allowed.
lock:
	uv run python tools/lock.py

lock-upgrade:
	uv run python tools/lock.py --upgrade
