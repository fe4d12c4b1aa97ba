"""The operational half of the `lich` command (`internal.cli`): the failed-jobs store, the periodic
jobs and admin accounts. It ships in the container image, so `docker compose exec api lich jobs
failed` works where operators are.

What depends on the task runner lives in `handover` (how a retried job reaches the runner, and what
runs periodic jobs). The developer commands (`make job`, `dev`, `mail`) live in the `lich_dev`
package beside `internal/`, which the image leaves out: nothing here imports it.
"""
