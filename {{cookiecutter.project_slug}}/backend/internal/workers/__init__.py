"""The Temporal worker (`python -m internal.workers.main`), its shared activities and workflows.

The worker registers every workflow and activity defined in `internal.jobs` and in this package:
define one with `@workflow.defn` / `@activity.defn` and it is picked up, no list to edit.
"""
