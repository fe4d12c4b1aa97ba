"""Errors the `lich` command reports as one line on stderr, with an exit code, never a traceback."""

from __future__ import annotations

import argparse
from typing import NoReturn


class LichError(Exception):
    """Something the user can fix; nothing was written."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(LichError):
    """The command line itself is wrong (a bad name, an unsupported option value)."""

    exit_code = 2


class Parser(argparse.ArgumentParser):
    """Usage errors as one line: what is wrong, and where to read more."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")
