"""``plansim``: a thin command line over the Snakemake workflow.

    plansim run [--scenario S ...] [--until YEAR] [--cores N] [--configfile F] [--dry-run] [-- SNAKEMAKE_ARGS]
    plansim compare [--cores N] [--configfile F] [--dry-run]
    plansim report [--out report.html] [--cores N] [--configfile F]
    plansim validate-census FILE [--census-date D] [--units fraction|percent] [--max-job-level N] [--sheet NAME]
    plansim sql "select ..." [--csv] [--results DIR]
    plansim fit SNAPSHOT... [--configfile F] [--scenario S] [--out DIR]
    plansim backtest SNAPSHOT... [--holdout N] [--replicates N] [--configfile F] [--scenario S] [--out DIR]

``run``, ``compare`` and ``report`` run the ``snakemake`` installed next to this Python, from
the current directory (the repository root, where the Snakefile is), print the command first
and exit with its exit code. ``validate-census`` checks a census file without Snakemake.
``sql`` queries results/catalog.duckdb (docs/results.md) and prints a table or CSV.
``fit`` estimates a scenario's assumptions from 2-5 annual census snapshots and ``backtest``
scores the fitted model on held-out years (docs/fit.md); a SNAPSHOT is ``FILE@YYYY-MM-DD``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from plansim.paths import RESULTS, year_dir
DEFAULT_CONFIG = "config.yaml"


class CliError(Exception):
    """A usage problem found before anything runs: printed as one message, exit 2."""


# ---------------------------------------------------------------------------- targets
def scenario_targets(scenario: str, results: str = RESULTS) -> list[str]:
    """What a finished scenario leaves for analysts (rules/audit.smk + rules/report.smk)."""
    base = f"{results}/{scenario}"
    return [f"{base}/summary.csv", f"{base}/{scenario}.xlsx", f"{base}/summary.html",
            f"{base}/plots/headcount.png", f"{base}/plots/participation.png", f"{base}/plots/contributions.png"]


def year_target(scenario: str, year: int, results: str = RESULTS) -> str:
    return f"{year_dir(scenario, year, results)}/done"


def _scenarios(configfile: Path) -> dict[str, dict]:
    from plansim.config import load_scenarios
    from plansim.errors import PlansimError

    if not configfile.is_file():
        raise CliError(f"config file {configfile} not found")
    try:
        return load_scenarios(configfile, base_dir=".")
    except PlansimError as error:
        raise CliError(str(error)) from None


def run_targets(configfile: Path, scenarios: Sequence[str] | None, until: int | None) -> list[str]:
    """Snakemake targets of ``plansim run``: [] (= rule all) without --scenario/--until."""
    if not scenarios and until is None:
        return []
    resolved = _scenarios(configfile)
    chosen = list(dict.fromkeys(scenarios or sorted(resolved)))
    unknown = [s for s in chosen if s not in resolved]
    if unknown:
        raise CliError(f"scenario(s) {', '.join(unknown)} not defined in {configfile} "
                       f"(defined: {', '.join(sorted(resolved))})")
    if until is None:
        return [t for s in chosen for t in scenario_targets(s)]
    targets = []
    for sid in chosen:
        first, last = resolved[sid]["start_year"], resolved[sid]["end_year"]
        if not first <= until <= last:
            raise CliError(f"--until {until} is outside scenario {sid}'s years {first}-{last}")
        targets.append(year_target(sid, until))
    return targets


# ---------------------------------------------------------------------------- snakemake
def snakemake_executable() -> Path:
    return Path(sys.executable).parent / "snakemake"


def snakemake_command(args: Sequence[str]) -> list[str]:
    exe = snakemake_executable()
    if not exe.exists():
        raise CliError(f"snakemake not found next to {sys.executable} (expected {exe}); "
                       "install plansim with its dependencies: make install")
    return [str(exe), *args]


def _check_workdir() -> None:
    if not Path("Snakefile").is_file():
        raise CliError(f"no Snakefile in {Path.cwd()}: run plansim from the repository root "
                       "(where Snakefile and config.yaml are)")


def _common(opts: argparse.Namespace) -> list[str]:
    out = []
    if getattr(opts, "configfile", None):
        out.append(f"--configfile={opts.configfile}")
    return out


def _execute(cmd: list[str]) -> int:
    shown = shlex.join([Path(cmd[0]).name, *cmd[1:]])
    print(f"plansim: {shown}", flush=True)
    env = {**os.environ, "PATH": f"{Path(cmd[0]).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(cmd, env=env).returncode


def cmd_run(opts: argparse.Namespace) -> int:
    _check_workdir()
    targets = run_targets(Path(opts.configfile or DEFAULT_CONFIG), opts.scenario, opts.until)
    args = ["--cores", str(opts.cores), *(["--dry-run"] if opts.dry_run else []), *_common(opts), *targets,
            *opts.snakemake_args]
    return _execute(snakemake_command(args))


def cmd_compare(opts: argparse.Namespace) -> int:
    _check_workdir()
    args = ["--cores", str(opts.cores), *(["--dry-run"] if opts.dry_run else []), *_common(opts),
            "compare_scenarios"]
    return _execute(snakemake_command(args))


def cmd_report(opts: argparse.Namespace) -> int:
    _check_workdir()
    out = Path(opts.out)
    if out.suffix not in (".html", ".zip"):
        raise CliError(f"--out {out}: the report file must end in .html or .zip")
    code = _execute(snakemake_command(["--cores", str(opts.cores), *_common(opts)]))
    if code != 0:
        return code
    code = _execute(snakemake_command(["--report", str(out), *_common(opts)]))
    if code == 0:
        from plansim.overview import render

        print(f"plansim: report written to {out}", flush=True)
        print(render(Path(RESULTS), sorted(_scenarios(Path(opts.configfile or DEFAULT_CONFIG))), out), flush=True)
    return code


# ---------------------------------------------------------------------------- census
def _census_defaults(configfile: Path) -> dict:
    """Census date, units and job levels the config gives (its defaults, not a scenario's)."""
    if not configfile.is_file():
        return {}
    from plansim.config import read_config_file
    from plansim.errors import PlansimError

    try:
        raw = read_config_file(configfile)
    except PlansimError as error:
        raise CliError(str(error)) from None
    out: dict = {}
    if raw.get("census_date"):
        out["census_date"] = str(raw["census_date"])
    elif isinstance(raw.get("start_year"), int):
        out["census_date"] = f"{raw['start_year'] - 1}-12-31"
    if raw.get("deferral_rate_units"):
        out["units"] = raw["deferral_rate_units"]
    if raw.get("census_sheet") and raw.get("census"):
        # the sheet the config names belongs to the config's census file only
        out["sheet_of"] = (Path(str(raw["census"])), str(raw["census_sheet"]))
    levels = (raw.get("workforce") or {}).get("promotion_rates")
    if isinstance(levels, list) and levels:
        out["max_job_level"] = len(levels)
    return out


def cmd_validate_census(opts: argparse.Namespace) -> int:
    from plansim.census import validate_census
    from plansim.errors import PlansimError

    defaults = _census_defaults(Path(opts.configfile))
    census_date = opts.census_date or defaults.get("census_date")
    if census_date is None:
        raise CliError(f"no --census-date given and no {opts.configfile} to take it from "
                       "(census_date, or Dec 31 before start_year)")
    try:
        date = dt.date.fromisoformat(str(census_date))
    except ValueError:
        raise CliError(f"census date {census_date!r} is not a date (YYYY-MM-DD)") from None
    sheet = opts.sheet
    if sheet is None and "sheet_of" in defaults:
        census, census_sheet = defaults["sheet_of"]
        if Path(opts.file).resolve() == (Path(opts.configfile).parent / census).resolve():
            sheet = census_sheet
    try:
        summary = validate_census(opts.file, date, max_job_level=opts.max_job_level or defaults.get("max_job_level", 5),
                                  deferral_rate_units=opts.units or defaults.get("units", "fraction"), sheet=sheet)
    except PlansimError as error:
        print(f"plansim: {error}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0


# ---------------------------------------------------------------------------- fit / backtest
def _history_inputs(opts: argparse.Namespace, minimum: int):
    """The base config (raw and the chosen scenario resolved) and the loaded snapshots."""
    from plansim.config import load_scenarios, read_config_file
    from plansim.errors import PlansimError
    from plansim.history import load_snapshots

    configfile = Path(opts.configfile or DEFAULT_CONFIG)
    if not configfile.is_file():
        raise CliError(f"config file {configfile} not found")
    try:  # the base config's paths are relative to its own directory (the workflow's root)
        resolved = load_scenarios(configfile)
    except PlansimError as error:
        raise CliError(str(error)) from None
    sid = opts.scenario or next(iter(resolved))
    if sid not in resolved:
        raise CliError(f"--scenario {sid}: not defined in {configfile} (defined: {', '.join(sorted(resolved))})")
    scn = resolved[sid]
    try:
        raw = read_config_file(configfile)
        snaps = load_snapshots(opts.snapshots, max_job_level=len(scn["workforce"]["promotion_rates"]),
                               deferral_rate_units=scn["deferral_rate_units"], minimum=minimum)
    except PlansimError as error:
        raise CliError(str(error)) from None
    return raw, scn, snaps


def cmd_fit(opts: argparse.Namespace) -> int:
    from plansim.fit import fit, write_outputs

    raw, scn, snaps = _history_inputs(opts, minimum=2)
    result = fit(snaps, scn)
    paths = write_outputs(Path(opts.out), raw, result, snaps, scenario_id=opts.name)
    fitted = sum(e.status == "fitted" for e in result.estimates)
    print(f"plansim: fitted {fitted} of {len(result.estimates)} estimates from {len(snaps)} snapshots "
          f"({snaps[0].date} to {snaps[-1].date}); kept from the base config: {len(result.estimates) - fitted}")
    for kind, path in paths.items():
        print(f"  {kind}: {path}")
    return 0


def cmd_backtest(opts: argparse.Namespace) -> int:
    from plansim import backtest
    from plansim.errors import PlansimError

    _check_workdir()
    raw, scn, snaps = _history_inputs(opts, minimum=3)
    out = Path(opts.out)
    try:
        meta, _, held, _, config_path = backtest.prepare(snaps, raw, scn, opts.holdout, opts.replicates, opts.name,
                                                         out, parameter_uncertainty=not opts.fitted_values_only)
    except PlansimError as error:
        raise CliError(str(error)) from None
    code = _execute(snakemake_command(["--cores", str(opts.cores), f"--configfile={config_path}",
                                       *backtest.targets(meta, RESULTS)]))
    if code != 0:
        return code
    scores = backtest.score(held, Path(RESULTS), opts.name, opts.replicates,
                            scn["workforce"]["termination_age_multipliers"])
    paths = backtest.write_scorecard(out, scores, meta)
    inside = sum(s.inside for s in scores)
    print(f"plansim: backtest of {', '.join(map(str, meta['held_out_years']))}: {inside} of {len(scores)} actual "
          "figures inside the replicates' P5-P95 range")
    for kind, path in paths.items():
        print(f"  {kind}: {path}")
    return 0


# ---------------------------------------------------------------------------- sql
def cmd_sql(opts: argparse.Namespace) -> int:
    import duckdb

    from plansim import results

    try:
        con = results.connect(opts.results)
    except results.CatalogError as error:
        raise CliError(str(error)) from None
    with con:
        try:
            cursor = con.execute(opts.query)
            frame = cursor.df() if cursor.description else None
        except duckdb.Error as error:
            raise CliError(f"SQL error: {error}") from None
    if frame is None:  # a statement without a result (e.g. SET)
        return 0
    try:
        if opts.csv:
            frame.to_csv(sys.stdout, index=False)
        elif frame.empty:
            print(", ".join(frame.columns))
            print("(0 rows)")
        else:
            print(frame.to_string(index=False))
            print(f"({len(frame)} row{'s' if len(frame) != 1 else ''})")
        sys.stdout.flush()
    except BrokenPipeError:  # `plansim sql ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


# ---------------------------------------------------------------------------- parser
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plansim",
        description="Multi-year workforce and 401(k) plan simulation. run/compare/report drive the Snakemake "
                    "workflow of the current directory (the repository root) and print the snakemake command.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cores = {"type": _positive_int, "default": os.cpu_count() or 1,
             "help": "CPU cores Snakemake may use (default: all, %(default)s here)"}
    configfile = {"metavar": "F", "help": f"config file instead of {DEFAULT_CONFIG}"}

    run = sub.add_parser("run", help="simulate scenarios (all by default) and build their summaries, "
                                     "workbooks and plots", description="Simulate and build the outputs.")
    run.add_argument("--scenario", action="append", metavar="S",
                     help="scenario id (repeatable; default: every scenario, plus the comparison)")
    run.add_argument("--until", type=int, metavar="YEAR",
                     help="only simulate up to this year (target results/S/YEAR/done)")
    run.add_argument("--cores", **cores)
    run.add_argument("--configfile", **configfile)
    run.add_argument("--dry-run", "-n", action="store_true", help="show what would run, run nothing")
    run.add_argument("snakemake_args", nargs="*", metavar="-- SNAKEMAKE_ARGS",
                     help="further snakemake options after `--` (e.g. -- --rerun-incomplete)")
    run.set_defaults(func=cmd_run)

    compare = sub.add_parser("compare", help="build the scenario comparison (results/comparison/)",
                             description="Build results/comparison/: table and plots across scenarios.")
    compare.add_argument("--cores", **cores)
    compare.add_argument("--configfile", **configfile)
    compare.add_argument("--dry-run", "-n", action="store_true", help="show what would run, run nothing")
    compare.set_defaults(func=cmd_compare)

    report = sub.add_parser("report", help="run the workflow, then write the Snakemake HTML report",
                            description="Run the workflow, then `snakemake --report OUT`.")
    report.add_argument("--out", default="report.html", metavar="FILE",
                        help="report file, .html (self-contained) or .zip (default: %(default)s)")
    report.add_argument("--cores", **cores)
    report.add_argument("--configfile", **configfile)
    report.set_defaults(func=cmd_report)

    census = sub.add_parser("validate-census", help="check a census file (CSV, Parquet or Excel); needs no Snakemake",
                            description="Check a census file. Exit 0 with a one-line summary when it is "
                                        "valid, exit 1 with every problem found when it is not. Options not "
                                        f"given come from {DEFAULT_CONFIG} (or --configfile) when present.")
    census.add_argument("file", metavar="FILE", help="census file")
    census.add_argument("--census-date", metavar="D", help="census date YYYY-MM-DD (default: from the config)")
    census.add_argument("--units", choices=["fraction", "percent"],
                        help="how deferral rates are written: 0.06 (fraction) or 6 (percent)")
    census.add_argument("--max-job-level", type=_positive_int, metavar="N", help="highest job level")
    census.add_argument("--sheet", metavar="NAME",
                        help="sheet of an Excel census (default: census_sheet when FILE is the config's census, "
                             "else the first sheet)")
    census.add_argument("--configfile", default=DEFAULT_CONFIG, metavar="F",
                        help="config to take defaults from (default: %(default)s)")
    census.set_defaults(func=cmd_validate_census)

    sql = sub.add_parser("sql", help="query the results catalog (results/catalog.duckdb) with SQL",
                         description="Run one SQL query against the views of results/catalog.duckdb (every "
                                     "scenario's and year's outputs; docs/results.md) and print the result "
                                     "as a table, or as CSV with --csv. The catalog is opened read-only.")
    sql.add_argument("query", metavar="QUERY", help='SQL, e.g. "select * from summary"')
    sql.add_argument("--csv", action="store_true", help="print CSV (header + rows) instead of a table")
    sql.add_argument("--results", default=RESULTS, metavar="DIR",
                     help="results directory holding catalog.duckdb (default: %(default)s)")
    sql.set_defaults(func=cmd_sql)

    snapshots = {"nargs": "+", "metavar": "SNAPSHOT",
                 "help": "annual census files of the same employer, oldest first, each FILE@YYYY-MM-DD "
                         "(or with the date or year in its name)"}
    base = {"metavar": "S", "help": "scenario of the config whose bands, plan design and other assumptions "
                                    "the fit starts from (default: the config's first)"}
    fit = sub.add_parser("fit", help="estimate a scenario's assumptions from 2-5 annual census snapshots",
                         description="Link the snapshots by employee_id, estimate termination, hiring, pay and "
                                     "enrollment assumptions with 95% intervals, and write a runnable config "
                                     "(fitted.yaml) and a fit report (docs/fit.md).")
    fit.add_argument("snapshots", **snapshots)
    fit.add_argument("--configfile", **configfile)
    fit.add_argument("--scenario", **base)
    fit.add_argument("--name", default="fitted", metavar="ID", help="id of the fitted scenario (default: %(default)s)")
    fit.add_argument("--out", default="fit", metavar="DIR", help="output directory (default: %(default)s)")
    fit.set_defaults(func=cmd_fit)

    bt = sub.add_parser("backtest", help="fit on the early snapshots, simulate the held-out years, score them",
                        description="Fit on all but the last --holdout snapshots, simulate the held-out years "
                                    "--replicates times with different seeds, and score each actual figure "
                                    "against the replicates' median and P5-P95 range (docs/fit.md).")
    bt.add_argument("snapshots", **snapshots)
    bt.add_argument("--holdout", type=_positive_int, default=1, metavar="N",
                    help="number of final snapshots held out (default: %(default)s)")
    bt.add_argument("--replicates", type=_positive_int, default=10, metavar="N",
                    help="simulations of the held-out years, one seed each (default: %(default)s)")
    bt.add_argument("--fitted-values-only", action="store_true",
                    help="simulate every replicate with the fitted values (default: each replicate draws its "
                         "assumptions from the fit's 95%% intervals, so the range also holds their uncertainty)")
    bt.add_argument("--configfile", **configfile)
    bt.add_argument("--scenario", **base)
    bt.add_argument("--name", default="backtest", metavar="ID",
                    help="prefix of the replicate scenarios, results/<ID>_rNN (default: %(default)s)")
    bt.add_argument("--out", default="backtest", metavar="DIR", help="output directory (default: %(default)s)")
    bt.add_argument("--cores", **cores)
    bt.set_defaults(func=cmd_backtest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    opts = parser.parse_args(argv)
    try:
        return opts.func(opts)
    except CliError as error:
        print(f"plansim: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
