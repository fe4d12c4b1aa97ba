"""The run-wide hooks stay light: the pytest-xdist controller loads them, and importing the app there
would delay every worker's start by about 2 s of CPU (tests/conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import BACKEND
from tests.processes import environ_unmeasured

# Import what every process of a run loads, and print which of the project's own modules that took in.
IMPORT_THE_HOOKS = (
    "import json, sys\n"
    "import tests.conftest, tests.runner_session\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('internal', 'lich_dev'))))\n"
)


def test_the_run_wide_hooks_import_nothing_of_the_app() -> None:
    result = subprocess.run(  # noqa: S603  (this interpreter, fixed code)
        [sys.executable, "-c", IMPORT_THE_HOOKS],
        cwd=BACKEND,
        env=environ_unmeasured(),  # only imports: nothing of the project runs
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == []
