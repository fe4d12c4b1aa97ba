"""Background jobs: one module per job, and the only place application code reaches the task runner.

A job module defines ``CONTRACT`` (a `JobContract`: name, input model, tries, timeout, backoff,
queue) and ``async def dispatch(runner, payload)``. Modules are discovered by `registry`, so adding a
module is all it takes for the worker and the failed-jobs retry to know the job.
"""
