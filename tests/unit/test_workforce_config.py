"""Workforce keys resolved from the config: the default growth of the new-hire pay bands."""

from __future__ import annotations

import pytest

from conftest import REPO, base_config
from plansim.config import dbt_vars, resolve_config


def resolved(**scenarios):
    return resolve_config(base_config(scenarios=scenarios or {"baseline": {}}), base_dir=REPO)


def test_new_hire_pay_growth_defaults_to_cola_plus_mean_merit():
    scenarios = resolved(baseline={}, more_cola={"workforce": {"cola_rate": 0.02}},
                         fixed={"workforce": {"new_hire_pay_growth_rate": 0.025}})
    # config.yaml: cola 0.01 + mean(0.035, 0.032, 0.030, 0.028, 0.025) = 0.01 + 0.150 / 5 = 0.04
    assert scenarios["baseline"]["workforce"]["new_hire_pay_growth_rate"] == pytest.approx(0.04, abs=1e-12)
    # the scenario's own COLA: 0.02 + 0.03 = 0.05
    assert scenarios["more_cola"]["workforce"]["new_hire_pay_growth_rate"] == pytest.approx(0.05, abs=1e-12)
    # a stated rate is kept
    assert scenarios["fixed"]["workforce"]["new_hire_pay_growth_rate"] == 0.025
    # and reaches dbt as a number (int_hiring_events grows the bands by it)
    assert dbt_vars(scenarios["baseline"], 2026, "wf", "ds")["new_hire_pay_growth_rate"] == pytest.approx(0.04)


def test_retirement_defaults_reach_dbt():
    cfg = base_config(scenarios={"baseline": {}})
    del cfg["workforce"]["retirement"]
    retirement = resolve_config(cfg, base_dir=REPO)["baseline"]["workforce"]["retirement"]
    # the schema defaults: on, max_age 70, bands rising from age 60
    assert retirement["enabled"] is True and retirement["max_age"] == 70
    assert [band["min_age"] for band in retirement["age_probabilities"]] == [60, 62, 65, 67]
    assert dbt_vars(resolve_config(cfg, base_dir=REPO)["baseline"], 2026, "wf", "ds")["retirement"] == retirement
