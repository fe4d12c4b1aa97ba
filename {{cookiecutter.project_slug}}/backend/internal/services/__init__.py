"""Business logic, independent of HTTP and of the task runner."""
