"""Config loading, validation and scenario resolution.

``config.yaml`` holds defaults plus ``scenarios: {id: overrides}``. Each scenario resolves to
one flat-ish dict (``ResolvedScenario``) that Snakemake slices into rule ``params:`` and that
``dbt_vars`` turns into the ``--vars`` of every dbt call. Every problem is reported as a
``ConfigError`` naming the key path, before any job runs.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import functools
import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from plansim.errors import ConfigError

# Package data (pyproject.toml); in a checkout it links to schemas/config.schema.yaml, its one home.
SCHEMA_PATH = (Path(__file__).resolve().parent / "config.schema.yaml").resolve()
SCENARIO_ID = re.compile(r"^[a-z0-9_]+$")

TABLE_KEYS = {"plan_designs", "scenarios", "sweeps"}

# Named vesting schedules: the vested share after 0, 1, 2, ... completed years of vesting
# service, the last entry applying from then on. IRC 411(a)(2)(B): employer money must vest at
# least as fast as 3-year cliff or 2-to-6-year graded (20% after 2 years, +20% a year);
# IRC 401(k)(13)(D)(iii): QACA safe-harbor money 100% after at most 2 years.
VESTING_PRESETS = {
    "immediate": [1.0],
    "cliff_2": [0.0, 0.0, 1.0],
    "cliff_3": [0.0, 0.0, 0.0, 1.0],
    "graded_6": [0.0, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    "qaca_2": [0.0, 0.0, 1.0],
}
VESTING_MINIMUMS = {"cliff_3": VESTING_PRESETS["cliff_3"], "graded_6": VESTING_PRESETS["graded_6"]}


def vesting_schedule(spec: str | list) -> list[float]:
    """A vesting schedule as its list of vested shares (a preset name resolved)."""
    return [float(x) for x in (VESTING_PRESETS[spec] if isinstance(spec, str) else spec)]


def _share_at(schedule: list[float], years: int) -> float:
    return schedule[min(years, len(schedule) - 1)]


# Safe-harbor match formulas, the floor a design's match must reach at every deferral rate:
# the basic match (IRC 401(k)(12)(B)(i)) and the QACA match (401(k)(13)(D)(i)(I)); the
# nonelective safe harbors are 3% of pay (401(k)(12)(C), 401(k)(13)(D)(i)(II)).
SAFE_HARBOR_MATCH_FLOOR = {
    "basic_match": [{"from": 0.0, "to": 0.03, "rate": 1.0}, {"from": 0.03, "to": 0.05, "rate": 0.5}],
    "enhanced_match": [{"from": 0.0, "to": 0.03, "rate": 1.0}, {"from": 0.03, "to": 0.05, "rate": 0.5}],
    "qaca_match": [{"from": 0.0, "to": 0.01, "rate": 1.0}, {"from": 0.01, "to": 0.06, "rate": 0.5}],
}
SAFE_HARBOR_NONELECTIVE_RATE = 0.03
SAFE_HARBOR_MATCH_CAP = 0.06  # IRC 401(m)(11)(B)(i): no match on deferrals above 6% of pay
QACA_MIN_RATE, QACA_MAX_FIRST_RATE, QACA_MAX_RATE = 0.03, 0.10, 0.15  # IRC 401(k)(13)(C)(iii)


def match_on(tiers: list[dict], rate: float) -> float:
    """The match, as a share of pay, on a deferral of ``rate`` of pay under ``tiers``."""
    return sum(t["rate"] * min(max(rate - t["from"], 0.0), t["to"] - t["from"]) for t in tiers)


def _match_points(*tier_sets: list[dict]) -> list[float]:
    # both functions are piecewise linear: comparing them at every breakpoint (and at 100%) compares them everywhere
    return sorted({0.0, 1.0, *(x for tiers in tier_sets for t in tiers for x in (t["from"], t["to"]))})


def _match_rate_never_rises(tiers: list[dict]) -> bool:
    """IRC 401(k)(12)(B)(iii): the rate of match does not increase with the deferral rate (no gap before a tier)."""
    live = [t for t in tiers if t["rate"] > 0]
    return all(t["rate"] >= u["rate"] and t["to"] == u["from"] for t, u in zip(live, live[1:])) and \
        (not live or live[0]["from"] == 0)


def _acp_safe_harbor(pd_: dict) -> bool:
    """The match meets IRC 401(m)(11)(B): nothing on deferrals above 6% of pay, a rate that never rises."""
    live = [t for t in pd_["match_tiers"] if t["rate"] > 0]
    return bool(live) and not pd_["match_tier_bands"] and _match_rate_never_rises(live) and \
        max(t["to"] for t in live) <= SAFE_HARBOR_MATCH_CAP + 1e-12


def _has_match(pd_: dict) -> bool:
    tiers = [t for band in (pd_["match_tier_bands"] or {}).get("bands", []) for t in band["tiers"]]
    return any(t["rate"] > 0 for t in [*pd_["match_tiers"], *tiers])


def _has_core(pd_: dict) -> bool:
    bands = (pd_["core_contribution_bands"] or {}).get("bands", [])
    return pd_["core_contribution_rate"] > 0 or any(b["rate"] > 0 for b in bands)


def _conditions_set(cond: dict) -> bool:
    return bool(cond.get("last_day_employed") or cond.get("min_hours") or cond.get("min_service_years"))


def _safe_harbor_problems(pd_: dict, where: str) -> list[str]:
    """A design flagged safe harbor meets its type: formula, vesting, no allocation conditions,
    and (QACA) the automatic enrollment of IRC 401(k)(13)(C)."""
    kind = pd_["compliance"]["safe_harbor"]
    if kind == "none":
        return []
    at = f"{where}.plan_design.compliance.safe_harbor: {kind}"
    p = []
    qaca = kind.startswith("qaca")
    vest_years = 2 if qaca else 0  # QACA money may vest after 2 years (401(k)(13)(D)(iii)); the others at once
    if kind in SAFE_HARBOR_MATCH_FLOOR:
        tiers, floor = pd_["match_tiers"], SAFE_HARBOR_MATCH_FLOOR[kind]
        if pd_["match_tier_bands"]:
            p.append(f"{at} needs one match formula for everyone, not match_tier_bands")
        short = [x for x in _match_points(tiers, floor) if match_on(tiers, x) < match_on(floor, x) - 1e-12]
        if kind == "basic_match":
            if short or any(abs(match_on(tiers, x) - match_on(floor, x)) > 1e-12 for x in _match_points(tiers, floor)):
                p.append(f"{at}: match_tiers are not the basic formula (100% of the first 3% of pay deferred, 50% of "
                         "the next 2%, IRC 401(k)(12)(B)(i)); a richer formula is enhanced_match")
        elif short:
            p.append(f"{at}: match_tiers give less than the {'QACA' if qaca else 'basic'} safe harbor match at a "
                     f"deferral of {short[0]:.2%} of pay ({match_on(tiers, short[0]):.4%} < {match_on(floor, short[0]):.4%})")
        if not _match_rate_never_rises(tiers):
            p.append(f"{at}: the match rate rises with the deferral rate (or a tier leaves a gap): "
                     "IRC 401(k)(12)(B)(iii) forbids it")
        schedule, source = vesting_schedule(pd_["vesting"]["match"]), "match"
        for key in ("match", "match_true_up"):
            if _conditions_set(pd_["allocation_conditions"][key]):
                p.append(f"{at}: allocation_conditions.{key} sets a condition: safe harbor money goes to every "
                         "eligible employee who defers, with no last-day, hours or service condition")
    else:
        bands = (pd_["core_contribution_bands"] or {}).get("bands", [])
        rates = [b["rate"] for b in bands] if bands else [pd_["core_contribution_rate"]]
        if min(rates) < SAFE_HARBOR_NONELECTIVE_RATE - 1e-12:
            p.append(f"{at}: the core contribution is {min(rates):.2%} of pay for some employees, below the "
                     f"{SAFE_HARBOR_NONELECTIVE_RATE:.0%} a nonelective safe harbor needs (IRC 401(k)(12)(C))")
        schedule, source = vesting_schedule(pd_["vesting"]["core"]), "core"
        if _conditions_set(pd_["allocation_conditions"]["core"]):
            p.append(f"{at}: allocation_conditions.core sets a condition: the safe harbor contribution goes to every "
                     "eligible employee, with no last-day, hours or service condition")
    if _share_at(schedule, vest_years) < 1:
        need = "100% after at most 2 years of service (IRC 401(k)(13)(D)(iii))" if qaca else             "immediate vesting (IRC 401(k)(12)(E)(i))"
        p.append(f"{at}: vesting.{source} {pd_['vesting'][source]} does not give {need}")
    if qaca:
        ae, esc = pd_["auto_enrollment"], pd_["auto_escalation"]
        if not ae["enabled"] or ae["scope"] != "all_eligible":
            p.append(f"{at}: a QACA automatically enrolls every eligible employee (IRC 401(k)(13)(C)): "
                     "auto_enrollment must be enabled with scope all_eligible")
        if not QACA_MIN_RATE - 1e-12 <= ae["default_rate"] <= QACA_MAX_FIRST_RATE + 1e-12:
            p.append(f"{at}: auto_enrollment.default_rate {ae['default_rate']} is outside the QACA's "
                     f"{QACA_MIN_RATE:.0%}-{QACA_MAX_FIRST_RATE:.0%} for the first year (IRC 401(k)(13)(C)(iii))")
        if ae["default_rate"] < 0.06 - 1e-12 and not (esc["enabled"] and esc["increment"] >= 0.01 - 1e-12
                                                       and esc["delay_years"] <= 1 and esc["cap"] >= 0.06 - 1e-12):
            p.append(f"{at}: a default below 6% must escalate by at least 1 point a year from the second year to at "
                     "least 6% (IRC 401(k)(13)(C)(iii)): auto_escalation enabled, increment >= 0.01, delay_years <= 1, "
                     "cap >= 0.06")
        if esc["enabled"] and esc["cap"] > QACA_MAX_RATE + 1e-12:
            p.append(f"{at}: auto_escalation.cap {esc['cap']} is above the QACA's {QACA_MAX_RATE:.0%}")
    return p


def safe_harbor_reasons(pd_: dict) -> dict[str, str | None]:
    """Why the ADP test, the ACP test and the top-heavy rules are deemed met (None: they are tested)."""
    kind = pd_["compliance"]["safe_harbor"]
    out = {"adp": None, "acp": None, "top_heavy": None}
    if kind == "none":
        return out
    out["adp"] = {
        "basic_match": "safe harbor basic match (IRC 401(k)(12)(B)(i)), fully vested",
        "enhanced_match": "safe harbor enhanced match (IRC 401(k)(12)(B)(ii)), fully vested",
        "nonelective": "safe harbor nonelective contribution of at least 3% of pay (IRC 401(k)(12)(C)), fully vested",
        "qaca_match": "QACA safe harbor match with automatic enrollment (IRC 401(k)(13))",
        "qaca_nonelective": "QACA safe harbor nonelective contribution with automatic enrollment (IRC 401(k)(13))",
    }[kind]
    if _acp_safe_harbor(pd_):
        out["acp"] = ("the match meets IRC 401(m)(11)(B) in a safe harbor plan: nothing on deferrals above 6% of pay "
                      "and a rate that never rises")
    match_plan = kind in SAFE_HARBOR_MATCH_FLOOR
    only_safe_harbor = (not _has_core(pd_)) if match_plan else (not _has_match(pd_) or out["acp"] is not None)
    if only_safe_harbor and (not match_plan or out["acp"] is not None):
        out["top_heavy"] = ("the plan holds only deferrals and safe harbor contributions: exempt from the top-heavy "
                            "rules (IRC 416(g)(4)(H))")
    return out


# Keys that orchestration consumes (Snakemake / Python) rather than SQL.
ORCHESTRATION_KEYS = {"end_year", "census", "census_sheet", "census_date", "deferral_rate_units", "dbt_threads",
                      # read per plan year by year_scenario, which gives the SQL its TIMELINE_KEYS
                      "plan_design_timeline"}
# Plan-design keys (as flattened for dbt) that the SQL does not read: how the plan uses its
# forfeiture account (the year's summary, plansim.summary.plan_money) and the safe harbor type.
ORCHESTRATION_PLAN_KEYS = {"forfeitures_use", "forfeitures_plan_expense_per_participant",
                           # validated in Python; the SQL reads the reasons it gives (safe_harbor_reasons)
                           "compliance_safe_harbor",
                           # the year's sweep reaches SQL as enrollment_sweep (year_scenario)
                           "enrollment_sweeps"}


# --------------------------------------------------------------------------- loading
class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate mapping keys (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                key_node.start_mark)
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_error_message(path: Path, exc: yaml.YAMLError) -> str:
    """One message naming the file, the line and column, and what is wrong there (PyYAML's
    own text names the stream "<unicode string>" and puts the line last)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or not problem:
        return f"config file {path}: YAML error: {exc}"
    kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
    lines = [f"config file {path}, line {mark.line + 1}, column {mark.column + 1}: {kind}: {problem}"]
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        where = (f" that starts at line {context_mark.line + 1}, column {context_mark.column + 1}"
                 if context_mark is not None and context_mark.line != mark.line else "")
        lines.append(f"  ({context}{where})")
    if "'\\t'" in problem or "\t" in problem:
        lines.append("  (indent YAML with spaces, not tabs)")
    snippet = mark.get_snippet(indent=4)
    if snippet:
        lines.append(snippet.rstrip())
    return "\n".join(lines)


def read_config_file(path: str | Path) -> dict:
    """Parse a config YAML strictly: syntax errors and duplicate keys name the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc.strerror})") from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error_message(path, exc)) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of keys")
    return data


@functools.lru_cache(maxsize=4)
def _parsed_schema(mtime_ns: int) -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def load_schema() -> dict:
    """The config JSON schema (parsed once per version of the file: pure-Python YAML is slow)."""
    return copy.deepcopy(_parsed_schema(SCHEMA_PATH.stat().st_mtime_ns))


# --------------------------------------------------------------------------- validation
def _key_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _schema_errors(instance: Any, schema: dict, root: dict, prefix: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        {**schema, "$defs": root["$defs"]}, format_checker=jsonschema.FormatChecker())
    problems = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        where = _key_path(list(err.absolute_path))
        where = f"{prefix}.{where}" if prefix and where != "(top level)" else (prefix or where)
        if err.validator == "additionalProperties":
            known = sorted(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - set(known), key=str)
            hints = []
            for key in extra:
                close = difflib.get_close_matches(str(key), known, 1, 0.75)
                hints.append(f"{key} (did you mean {close[0]}?)" if close else str(key))
            problems.append(f"{where}: unknown key(s) {', '.join(hints)}")
        else:
            problems.append(f"{where}: {_reason(err)}")
    return problems


def _reason(err: jsonschema.ValidationError) -> str:
    """jsonschema's message, reworded where it misleads (exclusive bounds) or a hint helps."""
    value, limit = err.instance, err.validator_value
    if err.validator == "exclusiveMinimum":
        return f"{value!r} must be greater than {limit!r}"
    if err.validator == "exclusiveMaximum":
        return f"{value!r} must be less than {limit!r}"
    if err.validator == "maximum" and limit == 1 and isinstance(value, (int, float)) and value > 1:
        return f"{err.message} (rates are fractions: 0.06 means 6%)"
    if err.validator == "format" and limit == "date":
        return f"{value!r} is not a valid date (YYYY-MM-DD, a real calendar day)"
    if err.validator == "oneOf" and err.absolute_path and err.absolute_path[-1] == "plan_design_id":
        return (f"{value!r} is neither a design id ([a-z0-9_]+, a key of plan_designs) nor a timeline "
                "(a mapping: plan year or ISO date -> a design id, or {extends: <design id>, ...keys it changes})")
    if err.validator == "oneOf" and len(err.absolute_path) >= 2 and err.absolute_path[-2] == "plan_design_id":
        return (f"{value!r} is neither a design id ([a-z0-9_]+) nor an inline design "
                "({extends: <design id>, ...keys it changes})")
    return err.message


def _strip_required(schema: Any) -> Any:
    """The scenario-override schema: same shapes, nothing required, no defaults."""
    if isinstance(schema, dict):
        return {k: _strip_required(v) for k, v in schema.items() if k not in ("required", "default", "minItems")}
    if isinstance(schema, list):
        return [_strip_required(v) for v in schema]
    return schema


def _fill_defaults(instance: dict, schema: dict, root: dict) -> dict:
    out = copy.deepcopy(instance)
    for key, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            sub = {**root["$defs"][sub["$ref"].split("/")[-1]], **{k: v for k, v in sub.items() if k != "$ref"}}
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if isinstance(out.get(key), dict) and sub.get("type") == "object":
            out[key] = _fill_defaults(out[key], sub, root)
    return out


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


EXTENDS = "extends"


def resolve_extends(table: dict, label: str, skip: set[str] = frozenset()) -> tuple[dict[str, dict], list[str]]:
    """Each entry of ``table`` deep-merged onto the entry its ``extends`` names, parent first, at
    any depth, without the ``extends`` key: ``({id: merged}, problems)``.

    A cycle is reported once, as the chain from its member that comes first in ``table``
    (``plan_designs.a extends b extends a: a cycle``); an unknown parent at the entry that names
    it. Entries whose chain meets a reported problem or an id in ``skip`` (an entry already
    reported invalid) are left out without a message of their own: the one mistake has one message.
    """
    entries = {str(key): value or {} for key, value in table.items()}
    order = {key: i for i, key in enumerate(entries)}
    merged: dict[str, dict] = {}
    problems: list[str] = []
    for key in entries:
        chain = [key]
        while (parent := entries[chain[-1]].get(EXTENDS)) is not None:
            parent = str(parent)
            if parent not in entries:
                if len(chain) == 1:
                    problems.append(f"{label}.{key} extends {parent}: {parent!r} is not a key of {label} "
                                    f"({', '.join(sorted(entries))})")
                break
            if parent in chain:
                cycle = chain[chain.index(parent):]
                if cycle[0] == key and key == min(cycle, key=order.__getitem__):
                    problems.append(f"{label}.{' extends '.join([*cycle, key])}: a cycle")
                break
            chain.append(parent)
        else:
            if skip.intersection(chain):
                continue
            out: dict = {}
            for member in reversed(chain):
                out = deep_merge(out, {k: v for k, v in entries[member].items() if k != EXTENDS})
            merged[key] = out
    return merged, problems


def _raw_schema(schema: dict) -> dict:
    """The schema the config file is checked against before any merge: a plan design with
    ``extends`` lists only what it changes, so each of its keys is checked but none is required
    (the resolved design is checked in full, see ``_resolve_designs``)."""
    out = copy.deepcopy(schema)
    out["properties"]["plan_designs"]["additionalProperties"] = {
        "if": {"type": "object", "required": [EXTENDS]},
        "then": _strip_required(schema["$defs"]["plan_design"]),
        "else": {"$ref": "#/$defs/plan_design"},
    }
    return out


def _resolve_designs(designs: dict, schema: dict) -> tuple[dict[str, dict], list[str]]:
    """``plan_designs`` with every ``extends`` chain merged; each merged design validated in full."""
    merged, problems = resolve_extends(designs, "plan_designs")
    out = {}
    for design_id, design in merged.items():
        errs = _schema_errors(design, schema["$defs"]["plan_design"], schema, f"plan_designs.{design_id}")
        if errs:
            problems.extend(errs)
        else:
            out[design_id] = design
    return out, problems


def resolve_new_hire_pay_growth(wf: dict) -> None:
    """new_hire_pay_growth_rate null means cola_rate + the arithmetic mean of merit_rates (the
    average raise of an incumbent), so new-hire pay keeps pace with incumbents' pay."""
    if wf.get("new_hire_pay_growth_rate") is None:
        rates = wf["merit_rates"]
        wf["new_hire_pay_growth_rate"] = round(wf["cola_rate"] + sum(rates) / len(rates), 10)


def _retirement_problems(wf: dict, where: str) -> list[str]:
    """Retirement bands increase strictly and lie below max_age; no hire can reach max_age in
    the hire year (hires do not retire in the year they are hired, so the year-end headcount
    would keep an employee aged max_age)."""
    ret = wf["retirement"]
    if not ret["enabled"]:
        return []
    p: list[str] = []
    max_age = ret["max_age"]
    starts = [band["min_age"] for band in ret["age_probabilities"]]
    if starts != sorted(set(starts)):
        p.append(f"{where}.retirement.age_probabilities: bands must increase strictly by min_age (got {starts})")
    for i, start in enumerate(starts):
        if start >= max_age:
            p.append(f"{where}.retirement.age_probabilities[{i}].min_age: {start} is not below "
                     f"retirement.max_age {max_age}")
    for i, item in enumerate(wf["new_hire_age_distribution"]):
        if item["age"] + 1 >= max_age:
            p.append(f"{where}.new_hire_age_distribution[{i}].age: {item['age']} is not below retirement.max_age - 1 "
                     f"({max_age - 1}): a hire aged {item['age']} can reach max_age {max_age} before Dec 31 of "
                     "the hire year, and hires do not retire in their hire year")
    return p


def _tier_problems(tiers: list[dict], where: str) -> list[str]:
    p = []
    for i, tier in enumerate(tiers):
        if tier["from"] >= tier["to"]:
            p.append(f"{where}[{i}]: from {tier['from']} is not below to {tier['to']}")
        if i and tier["from"] < tiers[i - 1]["to"]:
            p.append(f"{where}[{i}]: starts at {tier['from']}, inside the previous tier "
                     f"(ends at {tiers[i - 1]['to']}): tiers must be in order and must not overlap")
    return p


def _band_problems(bands: list[dict], where: str) -> list[str]:
    """Service or points bands tile [0, infinity): the first starts at 0, each starts where the
    previous one ends, only the last is open (to: null)."""
    p = []
    if bands[0]["from"] != 0:
        p.append(f"{where}[0].from: the first band starts at {bands[0]['from']}, not 0: "
                 f"service 0 to {bands[0]['from']} has no band")
    for i, band in enumerate(bands):
        last = i == len(bands) - 1
        if band["to"] is None and not last:
            p.append(f"{where}[{i}].to: null (no end) on a band that is not the last")
        if band["to"] is not None and band["to"] <= band["from"]:
            p.append(f"{where}[{i}]: from {band['from']} is not below to {band['to']}")
        if last and band["to"] is not None:
            p.append(f"{where}[{i}].to: the last band ends at {band['to']}: service from {band['to']} has no band "
                     "(set to: null)")
        if i and bands[i - 1]["to"] is not None and band["from"] != bands[i - 1]["to"]:
            kind = "a gap" if band["from"] > bands[i - 1]["to"] else "an overlap"
            p.append(f"{where}[{i}].from: {band['from']} leaves {kind} after the previous band (ends at "
                     f"{bands[i - 1]['to']}): each band starts where the previous one ends")
    return p


def _vesting_problems(spec: str | list, where: str) -> list[str]:
    if isinstance(spec, str):
        return []
    p = []
    if any(b < a for a, b in zip(spec, spec[1:])):
        p.append(f"{where}: {spec} decreases: a vested share never goes down with service")
    if spec[-1] != 1:
        p.append(f"{where}: {spec} ends at {spec[-1]}, not 1: employer money must vest fully")
    horizon = max(len(spec), len(VESTING_PRESETS["graded_6"]))
    if not any(all(_share_at(spec, y) >= _share_at(floor, y) for y in range(horizon))
               for floor in VESTING_MINIMUMS.values()):
        p.append(f"{where}: {spec} vests slower than both statutory minimums (IRC 411(a)(2)(B): 3-year cliff "
                 f"{VESTING_MINIMUMS['cliff_3']} or 6-year graded {VESTING_MINIMUMS['graded_6']})")
    return p


def _plan_money_problems(scn: dict, where: str) -> list[str]:
    pd_ = scn["plan_design"]
    p = []
    for key in ("match", "core"):
        p.extend(_vesting_problems(pd_["vesting"][key], f"{where}.plan_design.vesting.{key}"))
    for key in ("core_contribution_bands", "match_tier_bands"):
        if pd_[key]:
            p.extend(_band_problems(pd_[key]["bands"], f"{where}.plan_design.{key}.bands"))
    if pd_["match_tier_bands"]:
        for i, band in enumerate(pd_["match_tier_bands"]["bands"]):
            p.extend(_tier_problems(band["tiers"], f"{where}.plan_design.match_tier_bands.bands[{i}].tiers"))
    ages = [b["min_age"] for b in pd_["roth"]["new_election_share"]]
    if ages and (ages != sorted(set(ages)) or ages[0] != 0):
        p.append(f"{where}.plan_design.roth.new_election_share: bands must start at min_age 0 and increase strictly")
    p.extend(_safe_harbor_problems(pd_, where))
    split = scn["balances"]["opening_split"]
    if abs(sum(split.values()) - 1.0) > 1e-6:
        p.append(f"{where}.balances.opening_split: shares sum to {sum(split.values()):.6g}, not 1")
    return p


def _semantic_problems(scn: dict, where: str, base_dir: Path) -> list[str]:
    p: list[str] = []
    if scn["end_year"] < scn["start_year"]:
        p.append(f"{where}.end_year: {scn['end_year']} is before start_year {scn['start_year']}")
    wf = scn["workforce"]
    lengths = {k: len(wf[k]) for k in ("termination_level_multipliers", "promotion_rates", "merit_rates",
                                       "new_hire_level_mix", "compensation_bands")}
    if len(set(lengths.values())) > 1:
        p.append(f"{where}.workforce: by-level lists differ in length (one entry per job level): "
                 + ", ".join(f"{k}={n}" for k, n in lengths.items()))
    if abs(sum(wf["new_hire_level_mix"]) - 1.0) > 1e-6:
        p.append(f"{where}.workforce.new_hire_level_mix: shares sum to {sum(wf['new_hire_level_mix']):.6g}, not 1")
    for i, (lo, hi) in enumerate(wf["compensation_bands"]):
        if lo > hi:
            p.append(f"{where}.workforce.compensation_bands[{i}]: min {lo} is above max {hi}")
    for key, lo_key in (("termination_age_multipliers", "min_age"), ("termination_tenure_multipliers", "min_years"),):
        starts = [band[lo_key] for band in wf[key]]
        if starts != sorted(set(starts)) or starts[0] != 0:
            p.append(f"{where}.workforce.{key}: bands must start at {lo_key} 0 and increase strictly")
    p.extend(_retirement_problems(wf, f"{where}.workforce"))
    pd_ = scn["plan_design"]
    bands = [b["min_age"] for b in pd_["voluntary_enrollment"]["age_bands"]]
    if bands != sorted(set(bands)) or bands[0] != 0:
        p.append(f"{where}.plan_design.voluntary_enrollment.age_bands: bands must start at min_age 0 and increase strictly")
    p.extend(_tier_problems(pd_["match_tiers"], f"{where}.plan_design.match_tiers"))
    p.extend(_plan_money_problems(scn, where))
    ae, esc = pd_["auto_enrollment"], pd_["auto_escalation"]
    if ae["enabled"] and esc["enabled"] and esc["cap"] < ae["default_rate"]:
        p.append(f"{where}.plan_design.auto_escalation.cap: {esc['cap']} is below "
                 f"auto_enrollment.default_rate {ae['default_rate']}")
    max_rate = pd_["max_deferral_rate"]
    if esc["cap"] > max_rate:
        p.append(f"{where}.plan_design.auto_escalation.cap: {esc['cap']} is above max_deferral_rate {max_rate}")
    if ae["default_rate"] > max_rate:
        p.append(f"{where}.plan_design.auto_enrollment.default_rate: {ae['default_rate']} is above max_deferral_rate {max_rate}")
    for i, choice in enumerate(pd_["voluntary_enrollment"]["rate_choices"]):
        if choice["rate"] > max_rate:
            p.append(f"{where}.plan_design.voluntary_enrollment.rate_choices[{i}]: {choice['rate']} is above "
                     f"max_deferral_rate {max_rate}")
    census = Path(scn["census"])
    census = census if census.is_absolute() else base_dir / census
    if not census.is_file():
        looked = "" if Path(scn["census"]).is_absolute() else f" (looked for {census.resolve()})"
        what = "is not a file" if census.exists() else "does not exist"
        p.append(f"{where}.census: file {scn['census']} {what}{looked}")
    if scn["census_date"]:
        try:
            dt.date.fromisoformat(scn["census_date"])
        except ValueError:
            p.append(f"{where}.census_date: {scn['census_date']!r} is not a valid date")
    return p


# --------------------------------------------------------------------------- design timeline
# What a change of design within a plan year may change: the contribution formulas, applied per
# pay period by pay date (and a sweep, which is an event of its own date). Everything else is a
# plan-year rule (eligibility, enrollment, escalation, vesting, conditions, limits, testing).
FORMULA_KEYS = ("match_tiers", "match_tier_bands", "core_contribution_rate", "core_contribution_bands")
MID_YEAR_KEYS = (*FORMULA_KEYS, "enrollment_sweeps")


def _dates_as_text(value: Any) -> Any:
    """YAML reads an unquoted 2027-07-01 as a date (as a key or a value): the config speaks ISO text."""
    if isinstance(value, dict):
        return {_dates_as_text(k): _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _step_start(key: Any) -> str | None:
    """A timeline key as the ISO date it applies from: a plan year (Jan 1) or a date; None if neither."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{key:04d}-01-01"
    if isinstance(key, str) and re.fullmatch(r"[0-9]{4}", key):
        return f"{key}-01-01"
    try:
        return dt.date.fromisoformat(str(key)).isoformat()
    except ValueError:
        return None


def _timeline_steps(spec: Any, start_year: int, end_year: int, where: str) -> tuple[list[tuple], list[str]]:
    """``plan_design_id`` as steps (start date, design id, overrides of the step, where), in date order."""
    if isinstance(spec, str):
        return [(f"{start_year}-01-01", spec, {}, f"{where}.plan_design_id")], []
    steps, problems, seen = [], [], {}
    for key, value in spec.items():
        at = f"{where}.plan_design_id[{key}]"
        start = _step_start(key)
        if start is None:
            problems.append(f"{at}: {key!r} is neither a plan year (2027) nor an ISO date (2027-07-01)")
            continue
        if start in seen:
            problems.append(f"{at}: starts on {start}, like plan_design_id[{seen[start]}]")
            continue
        seen[start] = key
        if not f"{start_year}-01-01" <= start <= f"{end_year}-12-31":
            problems.append(f"{at}: {start} is outside the scenario's years {start_year}-{end_year}")
            continue
        if isinstance(value, dict) and not isinstance(value.get(EXTENDS), str):
            problems.append(f"{at}: an inline design names the design it changes with extends: <design id>")
            continue
        design_id, overrides = (value, {}) if isinstance(value, str) else (
            value[EXTENDS], {k: v for k, v in value.items() if k != EXTENDS})
        steps.append((start, design_id, overrides, at))
    steps.sort()
    if not problems and steps[0][0] != f"{start_year}-01-01":
        problems.append(f"{where}.plan_design_id: the first entry must be the start year {start_year} "
                        f"(the design of the first day simulated); it is {steps[0][0]}")
    return steps, problems


def _differing_keys(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _timeline_problems(timeline: list[dict], scn: dict, where: str) -> list[str]:
    """A change within a plan year changes only the formulas, and not those of a safe harbor plan;
    each sweep falls on a day its design is in force, one sweep per plan year."""
    p = []
    for prev, step in zip(timeline, timeline[1:]):
        if step["from"].endswith("-01-01"):
            continue
        at = f"{where}.plan_design_id[{step['from']}]"
        other = [k for k in _differing_keys(prev["plan_design"], step["plan_design"]) if k not in MID_YEAR_KEYS]
        if other:
            p.append(f"{at}: a change within a plan year may change only {', '.join(FORMULA_KEYS)} "
                     f"(and enrollment_sweeps); {step['plan_design_id']} also changes {', '.join(other)}: "
                     "start it on Jan 1 (a plan year as the key)")
        if prev["plan_design"]["compliance"]["safe_harbor"] != "none":
            p.append(f"{at}: {prev['plan_design_id']} is a safe harbor design, whose formula is fixed for the "
                     "whole plan year (Treas. Reg. 1.401(k)-3(e)(1)): start the change on Jan 1")
    sweep_years: dict[int, str] = {}
    for i, step in enumerate(timeline):
        until = timeline[i + 1]["from"] if i + 1 < len(timeline) else f"{scn['end_year'] + 1}-01-01"
        for j, sweep in enumerate(step["plan_design"]["enrollment_sweeps"]):
            at = f"{where}: plan design {step['plan_design_id']}'s enrollment_sweeps[{j}] on {sweep['date']}"
            if sweep["rate"] is not None and sweep["rate"] > step["plan_design"]["max_deferral_rate"]:
                p.append(f"{at}: rate {sweep['rate']} is above max_deferral_rate {step['plan_design']['max_deferral_rate']}")
            if not step["from"] <= sweep["date"] < until:
                p.append(f"{at} is not a day the design is in force here ({step['from']} to the day before {until})")
            elif int(sweep["date"][:4]) in sweep_years:
                p.append(f"{at}: a second sweep in plan year {sweep['date'][:4]} (the first on "
                         f"{sweep_years[int(sweep['date'][:4])]}); one per plan year")
            else:
                sweep_years[int(sweep["date"][:4])] = sweep["date"]
    return p


def year_steps(scn: dict, year: int) -> list[dict]:
    """The timeline's steps in force on some day of plan year ``year``, in order."""
    tl = scn["plan_design_timeline"]
    return [st for i, st in enumerate(tl)
            if st["from"] <= f"{year}-12-31" and (i + 1 == len(tl) or tl[i + 1]["from"] > f"{year}-01-01")]


def design_change_date(scn: dict, year: int) -> str | None:
    """The day a new design took effect in plan year ``year`` (the last, if several); None if none."""
    starts = [st["from"] for st in scn["plan_design_timeline"][1:] if st["from"][:4] == str(year)]
    return starts[-1] if starts else None


def year_scenario(scn: dict, year: int) -> dict:
    """The scenario as plan year ``year`` sees it: the design in force on Dec 31 (its id and keys),
    plus what the year's SQL takes from the timeline (docs/semantics.md 4.20):

    - ``plan_design_segments``: the match and core formulas of each design in force in the year,
      from the day it applies (the first from Jan 1), applied per pay period by pay date;
    - ``eligibility_rules``: the waiting days and minimum age of every design so far, from the day
      each applies: an employee is eligible from the first day some rule in force makes them so;
    - ``auto_enrollment_new_hires_from``: the day auto-enrollment of new hires began in an unbroken
      run of designs that have it (null when the year's design has none);
    - ``enrollment_sweep``: the year's sweep (null when none).
    Nothing of a later year's design, and of an earlier one only what the year's SQL reads. Each of
    these is null when the year's design alone says it (one formula, one eligibility rule, new hires
    from the start year): the SQL then reads the design's own keys, as a dbt unit test sets them.
    """
    steps = year_steps(scn, year)
    last = steps[-1]
    out = {k: v for k, v in scn.items() if k != "plan_design_timeline"}
    out["plan_design_id"] = last["plan_design_id"]
    out["plan_design"] = {k: v for k, v in last["plan_design"].items() if k != "enrollment_sweeps"}
    segments = [{"from": max(st["from"], f"{year}-01-01"), **{k: st["plan_design"][k] for k in FORMULA_KEYS}}
                for st in steps]
    out["plan_design_segments"] = segments if len(segments) > 1 else None
    rules: list[dict] = []
    for st in scn["plan_design_timeline"]:
        if st["from"] > f"{year}-12-31":
            break
        rule = {"waiting_days": st["plan_design"]["eligibility_waiting_days"],
                "minimum_age": st["plan_design"]["eligibility_minimum_age"]}
        if not rules or {k: rules[-1][k] for k in rule} != rule:
            rules.append({"from": st["from"] if rules else None, **rule})
    out["eligibility_rules"] = rules if len(rules) > 1 else None
    ae_from = None
    for st in scn["plan_design_timeline"]:
        if st["from"] > f"{year}-12-31":
            break
        ae = st["plan_design"]["auto_enrollment"]
        if ae["enabled"] and ae["scope"] == "new_hires_only":
            ae_from = ae_from or st["from"]
        else:
            ae_from = None
    out["auto_enrollment_new_hires_from"] = ae_from if ae_from != f"{scn['start_year']}-01-01" else None
    sweeps = [{**sw, "rate": st["plan_design"]["auto_enrollment"]["default_rate"] if sw["rate"] is None else sw["rate"]}
              for st in steps for sw in st["plan_design"]["enrollment_sweeps"] if sw["date"][:4] == str(year)]
    out["enrollment_sweep"] = sweeps[0] if sweeps else None
    return out


def resolve_config(raw: dict, base_dir: str | Path = ".", source: str = "config") -> dict[str, dict]:
    """Validate ``raw`` and return ``{scenario_id: resolved scenario}``; raise ConfigError."""
    base_dir = Path(base_dir)
    schema = load_schema()
    raw = _dates_as_text(raw)
    problems = _schema_errors(raw, _raw_schema(schema), schema, "")
    if problems:
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(f"  - {x}" for x in problems))
    defaults = {k: v for k, v in _fill_defaults(raw, schema, schema).items() if k not in TABLE_KEYS}
    designs = raw.get("plan_designs") or {}
    resolved_designs, problems = _resolve_designs(designs, schema)
    scenarios = raw.get("scenarios")
    if scenarios is None:
        scenarios = {"baseline": {}}
    generated = expand_sweeps(raw.get("sweeps"))
    clash = sorted(set(map(str, scenarios)) & set(generated))
    if clash:
        raise ConfigError(f"{source} is invalid:\n  - sweeps: generated scenario id(s) {', '.join(clash)} "
                          "are also defined under scenarios")
    scenarios = {**scenarios, **generated}
    if not scenarios:
        raise ConfigError(f"{source} is invalid:\n  - scenarios: no scenario defined (and no sweeps: generate one)")
    override_schema = _strip_required({k: v for k, v in schema.items() if k != "$defs"})
    override_schema["properties"] = {k: v for k, v in override_schema["properties"].items() if k not in TABLE_KEYS}
    override_schema["properties"]["plan_design"] = _strip_required(schema["$defs"]["plan_design"])
    override_schema["properties"]["plan_design"]["description"] = "overrides of the chosen plan design"
    del override_schema["properties"]["plan_design"]["properties"][EXTENDS]
    override_schema["properties"][EXTENDS] = _strip_required(
        schema["properties"]["scenarios"]["additionalProperties"]["properties"][EXTENDS])

    seen: dict[str, str] = {}
    valid: list[str] = []
    for sid, overrides in scenarios.items():
        sid_s = str(sid)
        # an id that is not [a-z0-9_]+ is quoted, so a trailing space or a slash shows
        where = f"scenarios.{sid_s}" if SCENARIO_ID.match(sid_s) else f"scenarios[{sid_s!r}]"
        norm = sid_s.strip().lower()
        if norm in seen:
            problems.append(f"{where}: duplicate scenario id: {sid_s!r} and {seen[norm]!r} are the same id "
                            f"after normalisation ({norm!r})")
            continue
        seen[norm] = sid_s
        if not SCENARIO_ID.match(sid_s):
            problems.append(f"{where}: scenario id {sid_s!r} must match [a-z0-9_]+ "
                            "(lower-case letters, digits, underscore; no slash or space)")
            continue
        overrides = overrides or {}
        if isinstance(overrides, dict) and EXTENDS in (overrides.get("plan_design") or {}):
            problems.append(f"{where}.plan_design.extends: a scenario picks its design with plan_design_id; "
                            "extends belongs in an entry of plan_designs, or at the top of a scenario "
                            "(extends: <scenario id>) to inherit another scenario's overrides")
            continue
        errs = _schema_errors(overrides, _strip_required(override_schema) | {"$defs": schema["$defs"]},
                              schema, where)
        if errs:
            problems.extend(errs)
            continue
        valid.append(sid_s)
    # a scenario with `extends: <scenario id>` is that scenario's overrides deep-merged with its own
    chains, errs = resolve_extends(scenarios, "scenarios", skip=set(map(str, scenarios)) - set(valid))
    problems.extend(errs)

    resolved: dict[str, dict] = {}
    for sid_s, overrides in chains.items():
        where = f"scenarios.{sid_s}"
        scn = deep_merge(defaults, {k: v for k, v in overrides.items() if k not in ("plan_design", "plan_design_id")})
        # a timeline is replaced whole, never merged key by key with the defaults' one
        spec = overrides.get("plan_design_id", defaults["plan_design_id"])
        steps, errs = _timeline_steps(spec, scn["start_year"], scn["end_year"], where)
        timeline = []
        for start, design_id, step_overrides, at in steps:
            if design_id not in designs:
                errs.append(f"{at}: {design_id!r} is not a key of plan_designs "
                            f"({', '.join(sorted(designs)) or 'none defined: the config has no plan_designs'})")
                continue
            if design_id not in resolved_designs:
                continue  # the design's own problem is reported under plan_designs
            merged = deep_merge(deep_merge(resolved_designs[design_id], overrides.get("plan_design") or {}),
                                step_overrides)
            design = _fill_defaults(merged, schema["$defs"]["plan_design"], schema)
            design.pop(EXTENDS, None)  # the schema's default (null): downstream sees the resolved design only
            design["enrollment_sweeps"] = [_fill_defaults(sweep, schema["$defs"]["plan_design"]["properties"]
                                                          ["enrollment_sweeps"]["items"], schema)
                                           for sweep in design["enrollment_sweeps"]]
            step_errs = _schema_errors(design, schema["$defs"]["plan_design"], schema,
                                       f"{where}.plan_design" if isinstance(spec, str) else at)
            errs.extend(step_errs)
            if not step_errs:
                timeline.append({"from": start, "plan_design_id": design_id, "plan_design": design, "where": at})
        if errs or len(timeline) != len(steps):
            problems.extend(errs)
            continue
        scn["plan_design_id"], scn["plan_design"] = timeline[0]["plan_design_id"], timeline[0]["plan_design"]
        scn["scenario_id"] = sid_s
        if not scn.get("census_date"):
            scn["census_date"] = f"{scn['start_year'] - 1}-12-31"
        resolve_new_hire_pay_growth(scn["workforce"])
        if isinstance(spec, str):
            timeline[0].pop("where")
            problems.extend(_semantic_problems(scn, where, base_dir))
        else:  # the scenario's checks once; each design's own, named by its entry of the timeline
            problems.extend(x for x in _semantic_problems(scn, where, base_dir) if not x.startswith(f"{where}.plan_design"))
            for step in timeline:
                at = step.pop("where")
                problems.extend(x for x in _semantic_problems({**scn, "plan_design": step["plan_design"]}, at, base_dir)
                                if x.startswith(f"{at}.plan_design"))
        problems.extend(_timeline_problems(timeline, scn, where))
        scn["plan_design_timeline"] = timeline
        resolved[sid_s] = scn
    if problems:
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(f"  - {x}" for x in problems))
    return resolved


def load_scenarios(path: str | Path, base_dir: str | Path | None = None) -> dict[str, dict]:
    path = Path(path)
    return resolve_config(read_config_file(path), base_dir if base_dir is not None else path.parent, str(path))


def expand_sweeps(sweeps: dict | None) -> dict[str, dict]:
    """Scenarios generated from each sweep's grid: every combination, in grid order, as
    ``<sweep id>_<nnn>`` = base overrides + the combination's dotted keys."""
    out: dict[str, dict] = {}
    for sweep_id, sweep in (sweeps or {}).items():
        keys = list(sweep["grid"])
        for number, combo in enumerate(itertools.product(*(sweep["grid"][k] for k in keys)), start=1):
            overrides = copy.deepcopy(sweep.get("base") or {})
            for dotted, value in zip(keys, combo):
                node = overrides
                *parents, leaf = dotted.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = copy.deepcopy(value)
            out[f"{sweep_id}_{number:03d}"] = overrides
    return out


# --------------------------------------------------------------------------- consumers
# The handover files a year's staging models read (year N-1's exports, the staged census in the
# start year): the phase jobs' inputs, passed as absolute paths under these vars.
FILE_VARS = ("starting_workforce_file", "prior_deferral_state_file", "prior_balances_file", "prior_compliance_file")


def phase_vars(scn: dict, year: int, phase: str) -> dict:
    """What a phase job of ``year`` hands dbt besides its input files: exactly the vars the phase's
    SQL reads (plansim.dbt_code.phase_var_names), at their values of the year. The rule's
    ``params.vars``: a change re-runs the job, and nothing the phase does not read is in it (a
    plan design edit leaves the workforce phase alone; a design that applies only from a later
    year, or only to earlier years' formulas, is not in a year's view: docs/semantics.md 4.20)."""
    from plansim.dbt_code import phase_var_names

    names = phase_var_names(phase) - set(FILE_VARS)
    return {k: v for k, v in dbt_vars(scn, year, "", "").items() if k in names}


# What the plan phase's SQL reads of a year's view (year_scenario), besides plan_design.
TIMELINE_KEYS = ("plan_design_segments", "eligibility_rules", "auto_enrollment_new_hires_from", "enrollment_sweep")


def dbt_vars(scn: dict, year: int, starting_workforce_file: str, prior_deferral_state_file: str,
             prior_balances_file: str | None = None, prior_compliance_file: str | None = None) -> dict:
    """The complete variable scope of one dbt call: identity, seed, year and all assumptions.

    Workforce keys keep their names; plan design and balances keys are flattened with ``_``
    (``auto_enrollment.default_rate`` -> ``auto_enrollment_default_rate``, ``balances.investment_return``
    -> ``balances_investment_return``). The design is the year's (year_scenario): the one in force
    on Dec 31, with the timeline's keys (TIMELINE_KEYS) as they are. Vesting schedules reach SQL as
    lists of vested shares.
    ``prior_balances_file`` and ``prior_compliance_file`` default to ``prior_deferral_state_file``:
    in the start year (and the pre-flight's empty census) all are the same census file.
    """
    view = year_scenario(scn, year)
    design = view["plan_design"]
    out: dict[str, Any] = {
        "scenario_id": view["scenario_id"],
        "plan_design_id": view["plan_design_id"],
        "simulation_year": int(year),
        "start_year": view["start_year"],
        "random_seed": view["random_seed"],
        "starting_workforce_file": str(starting_workforce_file),
        "prior_deferral_state_file": str(prior_deferral_state_file),
        "prior_balances_file": str(prior_deferral_state_file if prior_balances_file is None else prior_balances_file),
        "prior_compliance_file": str(prior_deferral_state_file if prior_compliance_file is None
                                     else prior_compliance_file),
    }
    out.update(view["workforce"])
    for key, value in design.items():
        if isinstance(value, dict) and key not in ("core_contribution_bands", "match_tier_bands"):
            out.update({f"{key}_{sub}": v for sub, v in value.items() if f"{key}_{sub}" not in ORCHESTRATION_PLAN_KEYS})
        else:
            out[key] = value
    for source in ("match", "core"):
        out[f"vesting_{source}"] = vesting_schedule(design["vesting"][source])
    for test, reason in safe_harbor_reasons(design).items():
        out[f"compliance_{test}_deemed_reason"] = reason
    out.update({f"balances_{key}": value for key, value in view["balances"].items()})
    out.update({key: view[key] for key in TIMELINE_KEYS})
    return out


def census_params(scn: dict) -> dict:
    """What staging the census reads of the scenario (stage_census's params)."""
    return {"census_date": scn["census_date"], "deferral_rate_units": scn["deferral_rate_units"],
            "census_sheet": scn["census_sheet"], "max_job_level": len(scn["workforce"]["promotion_rates"])}


def forfeiture_params(scn: dict, year: int) -> dict:
    """How the plan uses its forfeiture account in ``year`` (audit_year's params: the summary computes its use)."""
    return year_scenario(scn, year)["plan_design"]["forfeitures"]


def year_config_hash(scn: dict, year: int) -> str:
    """The hash of what plan year ``year`` is simulated from (the scenario's year view)."""
    return config_hash(year_scenario(scn, year))


def config_hash(scn: dict) -> str:
    return hashlib.sha256(json.dumps(scn, sort_keys=True, default=str).encode()).hexdigest()[:16]
