# Config validation, census check and the input functions of every rule.
import json
from pathlib import Path

from snakemake.exceptions import WorkflowError

from plansim import census as census_checks
from plansim import config as plansim_config
from plansim import dbt_code
from plansim.paths import BENCH, LOGS, RESULTS, model_file, scenario_paths, staged_census, year_dir
from plansim.jobs import save_scenario
from plansim.phases import EXPORTS, HANDOVER_INPUTS, SELECTORS
from plansim.errors import PlansimError
from plansim.state_files import check_state_file


# ---------------------------------------------------------------- config (parse time)
DEFAULT_CONFIGFILE = "config.yaml"


def _config_files():
    """config.yaml, then any --configfile of the command line (Snakemake loads both, in that order)."""
    files = [DEFAULT_CONFIGFILE, *map(str, getattr(workflow, "overwrite_configfiles", None) or [])]
    return list({str(Path(f).resolve()): f for f in reversed(files)}.values())[::-1]


try:
    # The strict reader names the file, line and column of a YAML syntax error, and refuses
    # duplicate keys, which PyYAML (and so `configfile:`) keeps silently (the last one wins).
    for _file in _config_files():
        if Path(_file).exists() or _file != DEFAULT_CONFIGFILE:
            plansim_config.read_config_file(_file)
    # Snakemake's own reader (`configfile:`) says only "Config file is not valid JSON or YAML"
    # for a syntax error: a Snakefile that leaves `configfile:` to this block gets the strict
    # message above first. With `configfile:` in the Snakefile, this is a no-op.
    if DEFAULT_CONFIGFILE not in map(str, workflow.configfiles) and Path(DEFAULT_CONFIGFILE).exists():
        workflow.configfile(DEFAULT_CONFIGFILE)
    SCENARIOS = plansim_config.resolve_config(config, base_dir=".", source=", ".join(
        f for f in _config_files() if Path(f).exists()))
except PlansimError as error:
    raise WorkflowError(str(error)) from None
# (resolve_config validated the whole config against plansim's schema: a second snakemake.utils.validate
# here could not fail.)



wildcard_constraints:
    scenario="[a-z0-9_]+",
    year="[0-9]{4}",


def _check_census_once(scn):
    """Validate each census before any job starts; remember files already found valid
    (path, size, mtime, census date, units, sheet) so large files are read once, not per run."""
    path = Path(scn["census"])
    stat = path.stat()
    key = plansim_config.hashlib.sha256(json.dumps(
        [str(path.resolve()), stat.st_size, stat.st_mtime_ns, scn["census_date"], scn["deferral_rate_units"],
         len(scn["workforce"]["promotion_rates"]), scn["census_sheet"]]).encode()).hexdigest()[:20]
    stamp = Path(".snakemake/plansim/census-ok") / key
    if stamp.exists():
        return
    try:
        census_checks.validate_census(path, plansim_config.dt.date.fromisoformat(scn["census_date"]),
                                      max_job_level=len(scn["workforce"]["promotion_rates"]),
                                      deferral_rate_units=scn["deferral_rate_units"], sheet=scn["census_sheet"])
    except PlansimError as error:
        raise WorkflowError(str(error)) from None
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()


for _scn in SCENARIOS.values():
    _check_census_once(_scn)
    # The resolved scenario, an input of the scenario's jobs (get_scenario_file): it must exist
    # when the DAG is built; its content is this run's config from onstart on (not a dry run's).
    save_scenario(_scn, scenario_paths(RESULTS, _scn["scenario_id"])["scenario"], replace=False)


onstart:
    for _scn in SCENARIOS.values():
        save_scenario(_scn, scenario_paths(RESULTS, _scn["scenario_id"])["scenario"])


# ---------------------------------------------------------------- helpers
def get_scenario(wildcards):
    if wildcards.scenario not in SCENARIOS:
        raise WorkflowError(f"scenario {wildcards.scenario!r} is not defined in the config "
                            f"(defined: {', '.join(sorted(SCENARIOS))})")
    return SCENARIOS[wildcards.scenario]


def get_year(wildcards):
    scn = get_scenario(wildcards)
    year = int(wildcards.year)
    if year < scn["start_year"]:
        raise WorkflowError(f"year {year} is before start_year {scn['start_year']} of scenario {wildcards.scenario}")
    return year


def is_start_year(wildcards):
    return get_year(wildcards) == get_scenario(wildcards)["start_year"]


def get_years(scenario):
    scn = SCENARIOS[scenario]
    return list(range(scn["start_year"], scn["end_year"] + 1))


def get_census_file(wildcards):
    return get_scenario(wildcards)["census"]


def get_dbt_threads(wildcards):
    return get_scenario(wildcards)["dbt_threads"]


def get_handover_file(name):
    """Input ``name`` of a year's phase (plansim.phases.HANDOVER_INPUTS): the staged census in the
    start year, year N-1's export of the model otherwise (refused with one clear message if damaged)."""
    model = HANDOVER_INPUTS[name]

    def handover(wildcards):
        if is_start_year(wildcards):
            return staged_census(wildcards.scenario)
        year = get_year(wildcards) - 1
        path = model_file(wildcards.scenario, year, model)
        if Path(path).exists():
            try:
                check_state_file(path, model=model, scenario_id=wildcards.scenario, year=year)
            except PlansimError as error:
                raise WorkflowError(str(error)) from None
        return path
    return handover


def phase_outputs(phase):
    """A phase rule's exports, named as in plansim.phases.EXPORTS."""
    return {name: model_file("{scenario}", "{year}", model) for name, model in EXPORTS[phase].items()}


def get_previous_plan_marker(wildcards):
    """Year N's workforce phase waits for year N-1's plan phase (same DuckDB file: the two
    must not write at once). ancient(): a re-run of N-1's plan phase alone (a plan-design
    change) does not re-run N's workforce phase, which does not read it."""
    if is_start_year(wildcards):
        return []
    return ancient(f"{year_dir(wildcards.scenario, get_year(wildcards) - 1)}/plan_phase.json")


def get_previous_done(wildcards):
    if is_start_year(wildcards):
        return []
    return f"{year_dir(wildcards.scenario, get_year(wildcards) - 1)}/done"


def get_phase_vars(phase):
    """A phase job's dbt vars, less its input files: exactly what its SQL reads, at the year's values
    (plansim.config.phase_vars). The job hands them to dbt as they are, so the value that decides a
    re-run is the value the SQL sees."""
    def vars_(wildcards):
        return json.dumps(plansim_config.phase_vars(get_scenario(wildcards), get_year(wildcards), phase), sort_keys=True)
    return vars_


def get_scenario_file(wildcards):
    """The resolved scenario (written above: at parse time if missing, by onstart when a run
    starts): what the pre-flight of the scenario's first job after a change reads. ancient(): its
    content is the whole scenario, and a phase job re-runs on its own params, not on an edit that
    the phase does not read."""
    get_scenario(wildcards)
    return ancient(str(scenario_paths(RESULTS, wildcards.scenario)["scenario"]))


def get_year_span(wildcards):
    scn = get_scenario(wildcards)
    return [scn["start_year"], scn["end_year"]]


def get_census_params(wildcards):
    return json.dumps(plansim_config.census_params(get_scenario(wildcards)), sort_keys=True)


def get_forfeiture_params(wildcards):
    """How the plan uses its forfeiture account (the year's summary computes its use)."""
    return json.dumps(plansim_config.forfeiture_params(get_scenario(wildcards), get_year(wildcards)), sort_keys=True)


def get_design_change_date(wildcards):
    """The day a new plan design took effect in the year ('' if none): the summary marks it."""
    return plansim_config.design_change_date(get_scenario(wildcards), get_year(wildcards)) or ""


def get_config_hash(wildcards):
    """The hash of the year's view of the scenario (a design of later years is not in it)."""
    return plansim_config.year_config_hash(get_scenario(wildcards), get_year(wildcards))


def get_mem_mb(wildcards, attempt=1):
    """Memory of a job that reads the scenario's data, from the census size (about 150 MB per
    MB of census CSV, 2 GB floor). DuckDB's memory_limit is set to 75% of it in the job."""
    path = Path(get_scenario(wildcards)["census"])
    size = path.stat().st_size if path.exists() else 0
    return int(max(2000, size / 1e6 * 150) * attempt)


def get_runtime_min(wildcards, attempt=1):
    """Wall-clock limit of a year job in minutes (SLURM -t), from the census size: about a
    minute per 100k employees measured on 2 cores, with a 10x margin and a 15 min floor."""
    path = Path(get_scenario(wildcards)["census"])
    size_mb = path.stat().st_size / 1e6 if path.exists() else 0
    return int(max(15, size_mb / 6.5 * 10) * attempt)


def get_year_targets(wildcards):
    return [f"{year_dir(wildcards.scenario, y)}/done" for y in get_years(wildcards.scenario)]


# dbt sources each phase builds from (plansim.dbt_code.PHASE_SOURCES). Their content hash is a
# param of the phase's rule: editing one re-runs exactly the phases that build it, from the start
# year (the file-DAG equivalent of --defer --state); touching a file without changing it re-runs nothing.
WORKFORCE_CODE_HASH = dbt_code.code_hash("workforce")
PLAN_CODE_HASH = dbt_code.code_hash("plan")
