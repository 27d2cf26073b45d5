"""Orchestration contract (SPEC §5, the seed story's acceptance items) through the real
snakemake command: pre-flight, quality gates, idempotency, re-run triggers, one build of
int_employee_contributions per year, configurable threads."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path

import pytest
import yaml

from conftest import copy_workflow, snakemake, tiny_config, write_config
from plansim.config import load_scenarios, phase_vars

pytestmark = pytest.mark.slow


def planned_jobs(proc) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    counts: dict[str, int] = {}
    in_table = False
    for line in proc.stdout.splitlines():
        if line.startswith("Job stats:"):
            in_table = True
            continue
        if in_table:
            found = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if found and found.group(1) != "total":
                counts[found.group(1)] = int(found.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


def files_state(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file() and ".plansim" not in p.parts}


def checksums(wd: Path, scenario: str, year: int) -> dict:
    return json.loads((wd / "results" / scenario / str(year) / "done").read_text())["content_checksums"]


@contextlib.contextmanager
def edited_config(wd: Path, edit):
    """``wd``'s config.yaml with ``edit(cfg)`` applied for the block, then put back as it was."""
    path = wd / "config.yaml"
    original = path.read_text()
    cfg = yaml.safe_load(original)
    edit(cfg)
    write_config(wd, cfg)
    try:
        yield cfg
    finally:
        path.write_text(original)


def break_model(wd: Path, relative: str, old: str, new: str) -> None:
    path = wd / "dbt" / "models" / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new))


def test_preflight_fails_fast_on_a_broken_model_and_writes_nothing(workdir):
    write_config(workdir, tiny_config())
    break_model(workdir, "intermediate/plan/int_employee_contributions.sql",
                "sum(earned_pay) as gross_compensation,", "sum(earned_pay) as as gross_compensation,")
    proc = snakemake(workdir, "--cores", "2", "results/tiny/2027/done", check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "scenario tiny, pre-flight: dbt build failed" in output and "int_employee_contributions" in output
    for rule in ("build_workforce_year", "build_plan_year", "audit_year"):
        assert f"rule {rule}:" not in output, f"{rule} ran after a failed pre-flight"
    written = [p for p in (workdir / "results").rglob("*") if p.is_file()] if (workdir / "results").exists() else []
    assert written == [], f"files written under results/: {written}"


def test_failed_gate_names_the_check_year_and_count_and_stops_the_chain(workdir):
    write_config(workdir, tiny_config())
    # July missing for employees whose id ends in 1: no dbt test sees it, the Python gate does
    break_model(workdir, "intermediate/plan/int_deferral_rate_state_accumulator.sql",
                "    from monthly\n)", "    from monthly\n    where not (as_of_month = 7 and employee_id like '%1')\n)")
    proc = snakemake(workdir, "--cores", "2", "results/tiny/2027/done", check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    found = re.search(r"quality gate 'accumulator_12_month_grain' failed for scenario tiny, year 2025: "
                      r"(\d+) employee\(s\) without exactly 12 monthly rows", output)
    assert found, output[-3000:]
    population = __import__("pandas").read_parquet(
        workdir / "results/tiny/2025/int_employee_compensation_by_year.parquet")
    assert int(found.group(1)) == population.employee_id.str.endswith("1").sum() > 0
    assert not (workdir / "results/tiny/2025/done").exists()
    assert not (workdir / "results/tiny/2026").exists(), "the chain went on after a failed gate"


def test_failed_dbt_test_stops_the_job_with_the_test_named(workdir):
    write_config(workdir, tiny_config())
    break_model(workdir, "intermediate/workforce/int_hiring_events.sql",
                "round(band_min + u_pay * (band_max - band_min))::decimal(18, 2) as annual_compensation",
                # negative pay in 2025 only: the unit tests (other years, run in the pre-flight) stay green,
                # so it is the year's data test that must catch it
                "(round(band_min + u_pay * (band_max - band_min))"
                " - {{ 1000000 if var('simulation_year') == 2025 else 0 }})::decimal(18, 2) as annual_compensation")
    proc = snakemake(workdir, "--cores", "2", "results/tiny/2025/done", check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "scenario tiny, year 2025, workforce phase: dbt build failed" in output
    assert re.search(r"test expression_is_true_this_year_int_hiring_events_\w+: \d+ failing row", output), output[-3000:]
    assert not (workdir / "results/tiny/2025/workforce_phase.json").exists()


@pytest.fixture(scope="module")
def chained(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("chain") / "wf")
    write_config(wd, tiny_config(dbt_threads=1))
    snakemake(wd, "--cores", "2", "results/tiny/2027/done")
    return wd


def test_threads_come_from_config(chained):
    """dbt_threads: 1 (the default config has 2): what dbt itself says it ran with, in each job's log."""
    for year in (2025, 2026, 2027):
        for phase in ("workforce", "plan"):
            log = (chained / f"logs/tiny/{year}/build_{phase}_year.log").read_text()
            assert re.findall(r"Concurrency: (\d+) threads", log) == ["1"], (year, phase)


def test_the_scenario_is_parsed_once_and_every_year_reuses_that_parse(chained):
    """One full dbt parse per scenario (the pre-flight's); each year's phases load its manifest."""
    logs = sorted((chained / "logs/tiny").rglob("*.log"))
    parses = [log.name for log in logs if log.parent.name != "dbt" for _ in
              re.findall(r"(?m)^.*(?:Starting full parse|Unable to do partial parsing).*$", log.read_text())]
    assert parses == ["stage_census.log"], parses
    for year in (2025, 2026, 2027):
        for phase in ("workforce", "plan"):
            marker = json.loads((chained / f"results/tiny/{year}/{phase}_phase.json").read_text())
            assert marker["dbt"]["manifest"] == "reused", (year, phase, marker["dbt"])


def test_contributions_are_built_once_per_year_in_the_plan_phase(chained):
    for year in (2025, 2026, 2027):
        plan_log = (chained / f"logs/tiny/{year}/build_plan_year.log").read_text()
        workforce_log = (chained / f"logs/tiny/{year}/build_workforce_year.log").read_text()
        assert len(re.findall(r"OK created sql incremental model main\.int_employee_contributions", plan_log)) == 1
        assert "int_employee_contributions" not in workforce_log
        order = [m for m in re.findall(r"OK created sql incremental model main\.(\w+)", plan_log)]
        assert order.index("int_deferral_rate_state_accumulator") < order.index("int_employee_contributions") \
            < order.index("fct_yearly_events")
        assert order.index("int_employee_contributions") < order.index("fct_workforce_snapshot")


def test_rerunning_a_year_replaces_it_identically_and_reruns_later_years(chained):
    before = {y: checksums(chained, "tiny", y) for y in (2025, 2026, 2027)}
    first_year = files_state(chained / "results/tiny/2025")
    later = {p.name: p.stat().st_mtime_ns for p in (chained / "results/tiny/2027").glob("*.parquet")}
    time.sleep(1.1)
    snakemake(chained, "results/tiny/2027/done", "--cores", "2", "--forcerun", "build_workforce_year")
    assert {y: checksums(chained, "tiny", y) for y in (2025, 2026, 2027)} == before
    rebuilt = files_state(chained / "results/tiny/2025")
    assert rebuilt["workforce_phase.json"][0] > first_year["workforce_phase.json"][0], "2025 was not re-run"
    for name in ("fct_workforce_snapshot.parquet", "int_employee_contributions.parquet"):
        assert rebuilt[name][1] == first_year[name][1], f"{name} of 2025 differs after a re-run"
    assert all(p.stat().st_mtime_ns > later[p.name] for p in (chained / "results/tiny/2027").glob("*.parquet"))

    # re-run one year: it and the later years are rebuilt, identical; earlier years untouched
    untouched = files_state(chained / "results/tiny/2025")
    dry = planned_jobs(snakemake(chained, "results/tiny/2027/done", "-n", "--cores", "1", "--forcerun",
                                 "results/tiny/2026/workforce_phase.json"))
    assert dry == {"build_workforce_year": 2, "build_plan_year": 2, "audit_year": 2}, dry
    # the same by deleting the year's outputs (and the later years', which depend on them:
    # Snakemake does not rebuild a deleted intermediate when what depends on it is present)
    for year in (2026, 2027):
        __import__("shutil").rmtree(chained / f"results/tiny/{year}")
    snakemake(chained, "--cores", "2", "results/tiny/2027/done")
    assert {y: checksums(chained, "tiny", y) for y in (2025, 2026, 2027)} == before
    assert files_state(chained / "results/tiny/2025") == untouched


def test_a_plan_design_change_reruns_only_plan_phases_from_the_start_year(chained):
    with edited_config(chained, lambda cfg: cfg["plan_designs"]["standard"]["match_tiers"][1].update(rate=0.75)) as cfg:
        proc = snakemake(chained, "-n", "--cores", "1", "results/tiny/2027/done")
        jobs = planned_jobs(proc)
        assert jobs.get("build_plan_year") == 3 and jobs.get("audit_year") == 3, jobs
        assert "build_workforce_year" not in jobs and "stage_census" not in jobs, jobs
        reasons = re.findall(r"rule build_plan_year:\n(?:    .*\n)*?    reason: ([^\n:]+)", proc.stdout)
        # the start year's plan phase for its params; the later ones because the year before is rebuilt
        # (Snakemake names the first reason it finds)
        assert reasons == ["Params have changed since last execution"] + ["Input files updated by another job"] * 2, \
            reasons
        assert "rule build_workforce_year:" not in proc.stdout
        # and a workforce assumption re-runs both phases of every year
        cfg["plan_designs"]["standard"]["match_tiers"][1]["rate"] = 0.5
        cfg["workforce"]["promotion_raise"] = 0.12
        write_config(chained, cfg)
        jobs = planned_jobs(snakemake(chained, "-n", "--cores", "1", "results/tiny/2027/done"))
        assert jobs.get("build_workforce_year") == 3 and jobs.get("build_plan_year") == 3, jobs


def test_each_phase_job_hands_dbt_its_params_and_inputs(chained):
    """What dbt got (the marker's vars) is the rule's params.vars, as resolved from the config
    once at parse time, plus the job's handover inputs; a workforce job gets no plan design."""
    scn = load_scenarios(chained / "config.yaml", base_dir=chained)["tiny"]
    # what the pre-flight reads is this config too, though dry runs of edited configs came in between
    saved = json.loads((chained / ".plansim/tiny/scenario.json").read_text())
    assert saved == json.loads(json.dumps(scn, default=str))
    for year in (2025, 2026, 2027):
        prior = "staged_census.parquet" if year == 2025 else f"{year - 1}/"
        for phase in ("workforce", "plan"):
            got = json.loads((chained / f"results/tiny/{year}/{phase}_phase.json").read_text())["vars"]
            files = {k: got.pop(k) for k in [k for k in got if k.endswith("_file")]}
            assert got == phase_vars(scn, year, phase), (year, phase)
            assert files and all(f.startswith(str((chained / "results/tiny").resolve()) + "/" + prior)
                                 for f in files.values()), (year, phase, files)
            assert ("match_tiers" in got) == (phase == "plan") and ("termination_rate" in got) == (phase == "workforce")


def test_a_value_no_phase_reads_reruns_no_phase(chained):
    """forfeitures.use decides only the year's summary (audit_year's params): no dbt build re-runs."""
    assert planned_jobs(snakemake(chained, "-n", "--cores", "1", "results/tiny/2027/done")) == {}
    with edited_config(chained, lambda cfg: cfg["plan_designs"]["standard"]["forfeitures"].update(
            use="pay_plan_expenses")):
        jobs = planned_jobs(snakemake(chained, "-n", "--cores", "1", "results/tiny/2027/done"))
    assert jobs == {"audit_year": 3}, jobs


def test_editing_a_model_reruns_only_the_phases_that_build_it(chained):
    assert planned_jobs(snakemake(chained, "-n", "--cores", "1", "results/tiny/2027/done")) == {}
    compliance = chained / "dbt/models/intermediate/compliance/int_adp_acp_tests.sql"
    compliance_original = compliance.read_text()
    compliance.write_text(compliance_original + "\n-- edited\n")
    try:
        jobs = planned_jobs(snakemake(chained, "-n", "--cores", "1", "results/tiny/2027/done"))
    finally:
        compliance.write_text(compliance_original)
    assert jobs.get("build_plan_year") == 3 and "build_workforce_year" not in jobs, jobs  # compliance: plan phase
    model = chained / "dbt/models/intermediate/plan/int_employee_contributions.sql"
    original = model.read_text()
    time.sleep(1.1)
    model.write_text(original + "\n-- edited\n")
    try:
        jobs = planned_jobs(snakemake(chained, "-n", "--cores", "1", "results/tiny/2027/done"))
        assert jobs.get("build_plan_year") == 3, jobs
        assert "build_workforce_year" not in jobs, jobs
        workforce_model = chained / "dbt/models/intermediate/workforce/int_promotion_events.sql"
        workforce_original = workforce_model.read_text()
        workforce_model.write_text(workforce_original + "\n-- edited\n")
        jobs = planned_jobs(snakemake(chained, "-n", "--cores", "1", "results/tiny/2027/done"))
        assert jobs.get("build_workforce_year") == 3 and jobs.get("build_plan_year") == 3, jobs
    finally:
        model.write_text(original)
