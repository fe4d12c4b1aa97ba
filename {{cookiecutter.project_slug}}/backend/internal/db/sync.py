"""Blocking engine for job code, which runs in worker processes and threads.

Created lazily per process: an engine (and its pool) must never cross a fork, so every forked
worker process builds its own on first use.
"""

from __future__ import annotations

import os
import threading

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from internal.db.base import configure_sqlite

_lock = threading.Lock()
_sessionmakers: dict[tuple[int, str], sessionmaker[Session]] = {}


def sync_sessionmaker(url: str) -> sessionmaker[Session]:
    """A sessionmaker for `url` owned by the current process."""
    key = (os.getpid(), url)
    with _lock:
        if key not in _sessionmakers:
            engine = create_engine(url, pool_pre_ping=True)
            configure_sqlite(engine)
            _sessionmakers[key] = sessionmaker(engine, expire_on_commit=False)
        return _sessionmakers[key]


def dispose_all() -> None:
    """Close every pool of this process (used on worker shutdown)."""
    with _lock:
        for key, maker in list(_sessionmakers.items()):
            if key[0] == os.getpid():
                bind = maker.kw["bind"]
                assert isinstance(bind, Engine)
                bind.dispose()
            del _sessionmakers[key]
