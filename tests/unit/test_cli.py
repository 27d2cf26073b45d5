"""The `plansim` command line (scripts/plansim/cli.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, copy_workflow, tiny_config, write_config
from plansim import cli

CENSUS_DIR = REPO / "tests" / "data" / "census"
CASES = yaml.safe_load((CENSUS_DIR / "cases.yaml").read_text(encoding="utf-8"))
CENSUS_DATE = str(CASES["census_date"])


def census_args(case: dict) -> list[str]:
    options = case.get("options") or {}
    args = ["--census-date", CENSUS_DATE]
    if "deferral_rate_units" in options:
        args += ["--units", options["deferral_rate_units"]]
    if "max_job_level" in options:
        args += ["--max-job-level", str(options["max_job_level"])]
    return args


def plansim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed `plansim` entry point."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "plansim"), *args], cwd=cwd or REPO, env=env, text=True, capture_output=True,
                          timeout=600)


# ---------------------------------------------------------------------------- help
def test_help_lists_every_subcommand():
    proc = plansim("--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("run", "compare", "report", "validate-census", "fit", "backtest"):
        assert command in proc.stdout
    run_help = plansim("run", "--help").stdout
    for option in ("--scenario", "--until", "--cores", "--configfile", "--dry-run"):
        assert option in run_help


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


# ---------------------------------------------------------------------------- validate-census
@pytest.mark.parametrize("name", sorted(CASES["valid"]))
def test_validate_census_accepts_a_valid_file_with_a_one_line_summary(name, capsys):
    case = CASES["valid"][name] or {}
    code = cli.main(["validate-census", str(CENSUS_DIR / "valid" / name), *census_args(case)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"census {CENSUS_DIR / 'valid' / name}: ")
    assert f": {case['rows']:,} rows, {case['active']:,} active, {case['terminated']:,} terminated" in lines[0]
    assert f"({case['column_set']} columns)" in lines[0]


@pytest.mark.parametrize("name", ["many_problems.csv", "duplicate_employee_id.csv", "missing_required_columns.csv",
                                  "deferral_looks_like_percent.csv", "binary_garbage.csv", "corrupt.parquet"])
def test_validate_census_refuses_an_invalid_file_with_one_clear_message(name, capsys):
    case = CASES["invalid"][name] or {}
    path = CENSUS_DIR / "invalid" / name
    code = cli.main(["validate-census", str(path), *census_args(case)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith(f"plansim: census file {path} is invalid:")
    for expected in case.get("expect", []):
        assert expected in err
    assert "Traceback" not in err


def test_validate_census_through_the_installed_command():
    valid = plansim("validate-census", str(CENSUS_DIR / "valid" / "plansim_columns.csv"), "--census-date", CENSUS_DATE)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.startswith("census ") and valid.stdout.count("\n") == 1
    invalid = plansim("validate-census", str(CENSUS_DIR / "invalid" / "many_problems.csv"),
                      "--census-date", CENSUS_DATE)
    assert invalid.returncode == 1
    assert "is invalid" in invalid.stderr and invalid.stdout == ""


def test_validate_census_missing_file_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["validate-census", str(tmp_path / "nope.csv"), "--census-date", CENSUS_DATE])
    assert code == 1
    assert "nope.csv is invalid:\n  - file not found" in capsys.readouterr().err


def test_validate_census_takes_the_census_date_from_the_config(tmp_path, monkeypatch, capsys):
    """Dec 31 before start_year by default; the config's census_date when set; an error when neither."""
    census = CENSUS_DIR / "invalid" / "hire_after_census.csv"
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate-census", str(census)]) == 2
    assert "no --census-date given" in capsys.readouterr().err

    Path("config.yaml").write_text("start_year: 2025\n")
    assert cli.main(["validate-census", str(census)]) == 1
    assert "after the census date 2024-12-31" in capsys.readouterr().err

    Path("config.yaml").write_text("start_year: 2025\ncensus_date: '2030-06-30'\n")
    assert cli.main(["validate-census", str(census)]) == 0
    capsys.readouterr()
    assert cli.main(["validate-census", str(census), "--census-date", "2024-12-31"]) == 1


def test_validate_census_rejects_a_bad_date_and_units(capsys):
    path = str(CENSUS_DIR / "valid" / "plansim_columns.csv")
    assert cli.main(["validate-census", path, "--census-date", "31/12/2024"]) == 2
    assert "not a date" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["validate-census", path, "--units", "basis_points"])
    assert info.value.code == 2


def test_validate_census_does_not_need_snakemake():
    """With `import snakemake` made impossible, validate-census still works."""
    code = (
        "import sys; sys.modules['snakemake'] = None\n"
        "from plansim.cli import main\n"
        f"rc = main(['validate-census', {str(CENSUS_DIR / 'valid' / 'plansim_columns.csv')!r}, "
        f"'--census-date', {CENSUS_DATE!r}])\n"
        "assert not any(m.startswith('snakemake.') for m in sys.modules), 'snakemake was imported'\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("census ")


# ---------------------------------------------------------------------------- run / compare / report
@pytest.fixture
def fake_snakemake(tmp_path, monkeypatch):
    """A stand-in `snakemake` that records its arguments and exits with $FAKE_EXIT (default 0);
    run from a directory with a Snakefile and the repository's config."""
    exe = tmp_path / "bin" / "snakemake"
    exe.parent.mkdir()
    calls = tmp_path / "calls.txt"
    exe.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit ${{FAKE_EXIT:-0}}\n')
    exe.chmod(0o755)
    monkeypatch.setattr(cli, "snakemake_executable", lambda: exe)
    work = tmp_path / "wf"
    work.mkdir()
    (work / "Snakefile").write_text("# stand-in\n")
    (work / "data").symlink_to(REPO / "data")
    (work / "config.yaml").write_text((REPO / "config.yaml").read_text())
    monkeypatch.chdir(work)
    return calls


def test_run_builds_the_chosen_scenarios_and_passes_the_exit_code(fake_snakemake, monkeypatch, capsys):
    assert cli.main(["run", "--scenario", "baseline", "--cores", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plansim: snakemake --cores 3 results/baseline/summary.csv results/baseline/baseline.xlsx")
    assert "results/baseline/plots/headcount.png" in out

    assert cli.main(["run", "--until", "2027", "--cores", "1", "--dry-run", "--configfile", "config.yaml",
                     "--", "--rerun-incomplete"]) == 0
    out = capsys.readouterr().out
    assert ("plansim: snakemake --cores 1 --dry-run --configfile=config.yaml results/baseline/2027/done "
            "results/high_growth/2027/done results/no_auto_features/2027/done --rerun-incomplete") in out

    assert cli.main(["run", "--cores", "2"]) == 0
    assert capsys.readouterr().out.strip() == "plansim: snakemake --cores 2"

    monkeypatch.setenv("FAKE_EXIT", "3")
    assert cli.main(["run", "--cores", "2"]) == 3
    calls = fake_snakemake.read_text().splitlines()
    assert calls[0] == "--cores 3 " + " ".join(cli.scenario_targets("baseline"))
    assert len(calls) == 4


def test_run_refuses_unknown_scenarios_and_years_outside_the_scenario(fake_snakemake, capsys):
    assert cli.main(["run", "--scenario", "nope"]) == 2
    assert "scenario(s) nope not defined in config.yaml (defined: baseline, high_growth" in capsys.readouterr().err
    assert cli.main(["run", "--until", "2040"]) == 2
    assert "--until 2040 is outside scenario baseline's years 2025-2029" in capsys.readouterr().err
    assert cli.main(["run", "--configfile", "missing.yaml", "--until", "2026"]) == 2
    assert "config file missing.yaml not found" in capsys.readouterr().err
    assert not fake_snakemake.exists(), "snakemake must not run after a usage error"


def test_compare_and_report_run_the_workflow_then_the_report(fake_snakemake, monkeypatch, capsys):
    assert cli.main(["compare", "--cores", "2"]) == 0
    assert "plansim: snakemake --cores 2 compare_scenarios" in capsys.readouterr().out
    assert cli.main(["report", "--cores", "2", "--out", "out/r.html"]) == 0
    out = capsys.readouterr().out
    assert "plansim: snakemake --cores 2\n" in out and "plansim: snakemake --report out/r.html" in out
    assert "report written to out/r.html" in out
    assert cli.main(["report", "--out", "r.pdf"]) == 2
    monkeypatch.setenv("FAKE_EXIT", "1")
    assert cli.main(["report", "--cores", "2"]) == 1
    calls = fake_snakemake.read_text().splitlines()
    assert calls == ["--cores 2 compare_scenarios", "--cores 2", "--report out/r.html", "--cores 2"]


def test_run_outside_the_repository_says_where_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run"]) == 2
    assert "no Snakefile in" in capsys.readouterr().err


@pytest.mark.slow
def test_run_dry_run_prints_the_snakemake_command_in_a_workflow_copy(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    write_config(wd, tiny_config(end_year=2026, scenarios={"tiny": {}, "tiny_b": {}}))
    proc = plansim("run", "--dry-run", "--scenario", "tiny", "--until", "2026", "--cores", "1", cwd=wd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.startswith("plansim: snakemake --cores 1 --dry-run results/tiny/2026/done\n")
    assert "audit_year" in proc.stdout + proc.stderr
    assert not (wd / "results" / "tiny" / "2026" / "done").exists()

    proc = plansim("compare", "--dry-run", "--cores", "1", cwd=wd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "compare_scenarios" in proc.stdout + proc.stderr
