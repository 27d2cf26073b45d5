"""plansim: multi-year workforce and 401(k) plan simulation.

The simulation itself is SQL in ``dbt/``; this package holds the Python around it:
config resolution, census validation and staging, dbt invocation, DuckDB access with
lock retry, exports, quality gates and reports. Snakemake rules call thin scripts that
import from here.
"""

__version__ = "0.1.0"
