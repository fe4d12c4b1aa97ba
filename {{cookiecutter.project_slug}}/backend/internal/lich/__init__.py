"""Building blocks of the `lich` command (`internal.cli`): finding the project, scaffolding jobs,
running the stack natively and working with the failed-jobs store.

What depends on the task runner lives in `scaffold` (the job and test a new job starts from) and
`stack` (the processes `lich dev` runs, and how a retried job is handed to the runner).
"""
