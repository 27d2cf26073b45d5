"""DuckDB connections with bounded lock retry.

DuckDB allows one writing process per database file. When another process holds the
file, ``connect`` retries with exponential backoff and full jitter up to ``max_wait``
seconds, then raises ``DatabaseLockedError`` naming the file and the holder's PID
(DuckDB's own message carries it: "... Conflicting lock is held in <exe> (PID 1234)").
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from plansim.errors import DatabaseLockedError

T = TypeVar("T")


def sql_literal(text: str | os.PathLike) -> str:
    """``text`` (a value, a file path) as a SQL string literal: single quotes, an embedded quote
    doubled, so a path like /home/o'brien/plans reaches DuckDB whole."""
    return "'" + str(text).replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


_PID = re.compile(r"PID (\d+)")

DEFAULT_MAX_WAIT = float(os.environ.get("PLANSIM_LOCK_MAX_WAIT", "60"))
BASE_DELAY = 0.2
MAX_DELAY = 5.0


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock on file" in text or "Conflicting lock is held" in text


def holder_pid(exc: BaseException) -> int | None:
    found = _PID.search(str(exc))
    return int(found.group(1)) if found else None


def retry_on_lock(action: Callable[[], T], path: str | Path, *, max_wait: float | None = None,
                  log: Callable[[str], None] = print, rng: random.Random | None = None) -> T:
    """Run ``action`` until it does not fail on a DuckDB lock, or ``max_wait`` is spent."""
    max_wait = DEFAULT_MAX_WAIT if max_wait is None else max_wait
    rng = rng or random.Random()
    deadline = time.monotonic() + max_wait
    attempt = 0
    while True:
        try:
            return action()
        except Exception as exc:  # duckdb.IOException, or a dbt error wrapping it
            if not is_lock_error(exc):
                raise
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pid = holder_pid(exc)
                who = f"process PID {pid}" if pid else "another process"
                raise DatabaseLockedError(
                    f"database {path} is locked by {who}; gave up after {attempt} attempt(s) over "
                    f"{max_wait:.0f}s. Stop that process (or wait for it) and run the same command again; "
                    f"nothing under results/ was changed by this job.") from exc
            delay = min(remaining, rng.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** attempt)))
            pid = holder_pid(exc)
            log(f"database {path} is locked by PID {pid or '?'}; retry {attempt} in {delay:.2f}s")
            time.sleep(delay)


def connect(path: str | Path, *, read_only: bool = False, max_wait: float | None = None,
            log: Callable[[str], None] = print) -> duckdb.DuckDBPyConnection:
    """Open ``path``, retrying while another process holds its lock."""
    path = str(path)
    return retry_on_lock(lambda: duckdb.connect(path, read_only=read_only), path, max_wait=max_wait, log=log)
