"""What every Snakemake script job shares: its log file, and one clear error on failure.

A script calls ``run_job(snakemake, fn)``; ``fn(snakemake, log)`` does the work. stdout and
stderr (dbt's chatter included) go to the rule's log; a ``PlansimError`` is written to the
log and to the terminal as one message, and the job exits 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from plansim.atomic import write_text
from plansim.errors import PlansimError


def run_job(smk, work: Callable) -> None:
    log_path = Path(str(smk.log[0])) if smk.log else None
    mem_mb = getattr(smk.resources, "mem_mb", None)
    if mem_mb and "PLANSIM_DUCKDB_MEMORY" not in os.environ:
        # DuckDB spills to disk past its limit; keep it inside what the job asked for (a
        # cluster kills a job that exceeds its request), with room for Python and dbt.
        os.environ["PLANSIM_DUCKDB_MEMORY"] = f"{int(mem_mb * 0.75)}MB"
    terminal = sys.__stderr__
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
    with (open(log_path, "w", buffering=1) if log_path else contextlib.nullcontext(sys.stderr)) as fh:
        def log(message: str) -> None:
            print(f"{time.strftime('%H:%M:%S')} {message}", file=fh, flush=True)

        try:
            with contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                work(smk, log)
        except PlansimError as error:
            log(f"ERROR {error}")
            print(f"\nplansim: {error}\n", file=terminal, flush=True)
            sys.exit(1)
        except KeyboardInterrupt:
            log("interrupted (SIGINT); resume with: snakemake --cores N --rerun-incomplete <target>")
            print(f"\nplansim: {smk.rule} interrupted; resume with --rerun-incomplete\n", file=terminal, flush=True)
            sys.exit(130)
        except Exception:
            log("ERROR unexpected failure:\n" + traceback.format_exc())
            print(f"\nplansim: unexpected failure in {smk.rule}; see {log_path}\n", file=terminal, flush=True)
            sys.exit(1)


def save_scenario(scn: dict, path: Path, replace: bool = True) -> None:
    """Write the resolved scenario where its jobs' pre-flight reads it (rules/common.smk); a file
    already holding it is left alone (its mtime too), and any file if not ``replace``."""
    text = json.dumps(scn, indent=1, sort_keys=True, default=str) + "\n"
    if not (path.exists() and (not replace or path.read_text() == text)):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, text)


def scenario_of(smk) -> dict:
    """The resolved scenario, from the job's declared input (resolved once, at parse time)."""
    return json.loads(Path(smk.input.scenario).read_text())
