# Results you can query: one DuckDB file of views (not copies) over every scenario's and
# year's exports and every scenario's summary.csv. Re-written whenever any of them changes.
#
#   results/catalog.duckdb     one view per exported model (plansim.phases.EXPORTS) + `summary`;
#                              paths relative to results/, so the directory can be moved (docs/results.md)

from plansim.phases import EXPORTS
from plansim.results import CATALOG_NAME, SUMMARY_VIEW

# The rule that writes each phase's exports (their outputs are named as in EXPORTS).
EXPORT_RULES = {"workforce": rules.build_workforce_year, "plan": rules.build_plan_year}


def get_catalog_sources(wildcards):
    """Named inputs of the catalog: view name -> its files (every scenario, every year)."""
    sources = {SUMMARY_VIEW: expand(rules.finalize_scenario.output.summary, scenario=get_scenario_ids())}
    for phase, outputs in EXPORTS.items():
        for name, model in outputs.items():
            pattern = getattr(EXPORT_RULES[phase].output, name)
            sources[model] = [file for sid in get_scenario_ids()
                              for file in expand(pattern, scenario=sid, year=get_years(sid))]
    return sources


rule write_catalog:
    input:
        unpack(get_catalog_sources),
    output:
        catalog=f"{RESULTS}/{CATALOG_NAME}",
    log:
        f"{LOGS}/write_catalog.log",
    script:
        "../scripts/make_catalog.py"
