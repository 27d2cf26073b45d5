# What analysts see: per scenario an Excel workbook, a summary table and plots; across
# scenarios a comparison table and plots. Outputs wrapped in report() make up
# `snakemake --report report.html` (captions in report/, one category per scenario).
#
#   results/{scenario}/{scenario}.xlsx                 summary, events by type, compliance, final-year
#                                                      workforce, assumptions, run metadata
#   results/{scenario}/summary.html                    key figures by year (the report's table) and the
#                                                      compliance panel (results/{scenario}/compliance.csv)
#   results/{scenario}/plots/{headcount,participation,contributions}.png
#   results/comparison/comparison.csv, .html           scenario x year x key figures
#   results/comparison/{headcount,participation,average_deferral,employer_cost}.png
#   results/docs/models.html                           dbt's documentation of every model (offline page)


report: "../report/workflow.rst"


def get_year_events(wildcards):
    """Every year's event file of the scenario."""
    return [f"{year_dir(wildcards.scenario, y)}/fct_yearly_events.parquet" for y in get_years(wildcards.scenario)]


def get_final_snapshot(wildcards):
    """The workforce snapshot of the scenario's end year."""
    return f"{year_dir(wildcards.scenario, get_scenario(wildcards)['end_year'])}/fct_workforce_snapshot.parquet"


def get_resolved_scenario(wildcards):
    """The resolved scenario (assumptions + plan design) as JSON: a change re-writes the workbook."""
    return json.dumps(get_scenario(wildcards), default=str)


def get_scenario_ids():
    return sorted(SCENARIOS)


rule write_workbook:
    input:
        summary=rules.finalize_scenario.output.summary,
        events=get_year_events,
        snapshot=get_final_snapshot,
        done=get_year_targets,
        compliance=rules.finalize_scenario.output.compliance,
    output:
        # Not in the HTML report: it holds the final year's whole workforce (large censuses
        # would make report.html hundreds of MB); report/workflow.rst points to it.
        workbook=f"{RESULTS}/{{scenario}}/{{scenario}}.xlsx",
    log:
        f"{LOGS}/{{scenario}}/write_workbook.log",
    benchmark:
        f"{BENCH}/{{scenario}}/write_workbook.tsv"
    params:
        scenario=get_resolved_scenario,
    script:
        "../scripts/make_workbook.py"


rule tabulate_scenario:
    input:
        summary=rules.finalize_scenario.output.summary,
        compliance=rules.finalize_scenario.output.compliance,
    output:
        table=report(f"{RESULTS}/{{scenario}}/summary.html", caption="../report/summary_table.rst",
                     category="{scenario}", subcategory="Tables",
                     labels={"scenario": "{scenario}", "result": "Key figures by year"}),
    log:
        f"{LOGS}/{{scenario}}/tabulate_scenario.log",
    script:
        "../scripts/make_summary_table.py"


rule plot_scenario:
    input:
        summary=rules.finalize_scenario.output.summary,
    output:
        headcount=report(f"{RESULTS}/{{scenario}}/plots/headcount.png", caption="../report/headcount.rst",
                         category="{scenario}", subcategory="Plots",
                         labels={"scenario": "{scenario}", "plot": "Headcount"}),
        participation=report(f"{RESULTS}/{{scenario}}/plots/participation.png",
                             caption="../report/participation.rst", category="{scenario}", subcategory="Plots",
                             labels={"scenario": "{scenario}", "plot": "Participation and average deferral"}),
        contributions=report(f"{RESULTS}/{{scenario}}/plots/contributions.png",
                             caption="../report/contributions.rst", category="{scenario}", subcategory="Plots",
                             labels={"scenario": "{scenario}", "plot": "Contributions by source"}),
    log:
        f"{LOGS}/{{scenario}}/plot_scenario.log",
    script:
        "../scripts/make_scenario_plots.py"


rule compare_scenarios:
    input:
        summaries=expand(rules.finalize_scenario.output.summary, scenario=get_scenario_ids()),
    output:
        table=report(f"{RESULTS}/comparison/comparison.csv", caption="../report/comparison_table.rst",
                     category="Scenario comparison", subcategory="Tables",
                     labels={"result": "Comparison table (CSV, every figure)"}),
        html=report(f"{RESULTS}/comparison/comparison.html", caption="../report/comparison_html.rst",
                    category="Scenario comparison", subcategory="Tables",
                    labels={"result": "Key figures side by side"}),
        headcount=report(f"{RESULTS}/comparison/headcount.png", caption="../report/comparison_headcount.rst",
                         category="Scenario comparison", subcategory="Plots", labels={"plot": "Headcount"}),
        participation=report(f"{RESULTS}/comparison/participation.png",
                             caption="../report/comparison_participation.rst",
                             category="Scenario comparison", subcategory="Plots",
                             labels={"plot": "Participation rate"}),
        average_deferral=report(f"{RESULTS}/comparison/average_deferral.png",
                                caption="../report/comparison_average_deferral.rst", category="Scenario comparison",
                                subcategory="Plots", labels={"plot": "Average deferral rate"}),
        employer_cost=report(f"{RESULTS}/comparison/employer_cost.png",
                             caption="../report/comparison_employer_cost.rst",
                             category="Scenario comparison", subcategory="Plots",
                             labels={"plot": "Employer cost, % of payroll"}),
    log:
        f"{LOGS}/comparison/compare_scenarios.log",
    params:
        scenarios=get_scenario_ids(),
    script:
        "../scripts/make_comparison.py"


# The SQL is compiled with the first scenario's variables: its config is a param, so a change
# there (or in any dbt source) re-writes the page.
DOCS_SCENARIO = get_scenario_ids()[0]


rule document_models:
    input:
        sorted({str(p) for phase in dbt_code.PHASE_SOURCES for p in dbt_code.phase_files(phase)}),
    output:
        page=report(f"{RESULTS}/docs/models.html", caption="../report/model_docs.rst",
                    category="Model documentation", labels={"result": "Every model: grain, columns, tests, lineage"}),
    log:
        f"{LOGS}/docs/document_models.log",
    params:
        scenario=json.dumps(SCENARIOS[DOCS_SCENARIO], default=str),
    script:
        "../scripts/make_model_docs.py"
