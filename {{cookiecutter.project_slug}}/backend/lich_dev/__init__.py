"""The developer half of the `lich` command: `lich make job`, `lich dev` and `lich mail`.

Tooling for a source checkout, not runtime code: it writes into the source tree, runs the stack
natively and uses development dependencies (the mail sink's aiosmtpd, ruff). It lives beside
`internal/` so that the container image can leave it out (backend/.dockerignore): the application,
its workers and the operational commands (`internal.lich`) never import it, and `internal.cli`
hands the developer commands over to `lich_dev.commands` by name.

What depends on the task runner lives in `scaffold` (the job and test a new job starts from) and
`stack` (the processes `lich dev` runs).
"""
