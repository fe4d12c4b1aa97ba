"""Database access: declarative base, async engine for the API, sync engine for job code."""
