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
ORCHESTRATION_KEYS = {"end_year", "census", "census_sheet", "census_date", "deferral_rate_units", "dbt_threads"}
# Plan-design keys (as flattened for dbt) that the SQL does not read: how the plan uses its
# forfeiture account (the year's summary, plansim.summary.plan_money) and the safe harbor type.
ORCHESTRATION_PLAN_KEYS = {"forfeitures_use", "forfeitures_plan_expense_per_participant",
                           # validated in Python; the SQL reads the reasons it gives (safe_harbor_reasons)
                           "compliance_safe_harbor"}


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


def resolve_config(raw: dict, base_dir: str | Path = ".", source: str = "config") -> dict[str, dict]:
    """Validate ``raw`` and return ``{scenario_id: resolved scenario}``; raise ConfigError."""
    base_dir = Path(base_dir)
    schema = load_schema()
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
        scn = deep_merge(defaults, {k: v for k, v in overrides.items() if k != "plan_design"})
        design_id = scn["plan_design_id"]
        if design_id not in designs:
            problems.append(f"{where}.plan_design_id: {design_id!r} is not a key of plan_designs "
                            f"({', '.join(sorted(designs)) or 'none defined: the config has no plan_designs'})")
            continue
        if design_id not in resolved_designs:
            continue  # the design's own problem is reported under plan_designs
        design = _fill_defaults(deep_merge(resolved_designs[design_id], overrides.get("plan_design") or {}),
                                schema["$defs"]["plan_design"], schema)
        design.pop(EXTENDS, None)  # the schema's default (null): downstream sees the resolved design only
        errs = _schema_errors(design, schema["$defs"]["plan_design"], schema, f"{where}.plan_design")
        if errs:
            problems.extend(errs)
            continue
        scn["plan_design"] = design
        scn["scenario_id"] = sid_s
        if not scn.get("census_date"):
            scn["census_date"] = f"{scn['start_year'] - 1}-12-31"
        resolve_new_hire_pay_growth(scn["workforce"])
        problems.extend(_semantic_problems(scn, where, base_dir))
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
# Workforce keys only the plan phase reads.
PLAN_ONLY_WORKFORCE_KEYS = {"full_time_hours"}


def workforce_params(scn: dict) -> dict:
    """The slice of a scenario the workforce phase depends on (a change re-runs it)."""
    return {"start_year": scn["start_year"], "random_seed": scn["random_seed"],
            "workforce": {k: v for k, v in scn["workforce"].items() if k not in PLAN_ONLY_WORKFORCE_KEYS}}


def plan_params(scn: dict) -> dict:
    """The slice of a scenario the plan phase depends on."""
    return {"start_year": scn["start_year"], "random_seed": scn["random_seed"],
            "plan_design_id": scn["plan_design_id"], "plan_design": scn["plan_design"], "balances": scn["balances"],
            "workforce": {k: scn["workforce"][k] for k in sorted(PLAN_ONLY_WORKFORCE_KEYS)}}


def dbt_vars(scn: dict, year: int, starting_workforce_file: str, prior_deferral_state_file: str,
             prior_balances_file: str | None = None, prior_compliance_file: str | None = None) -> dict:
    """The complete variable scope of one dbt call: identity, seed, year and all assumptions.

    Workforce keys keep their names; plan design and balances keys are flattened with ``_``
    (``auto_enrollment.default_rate`` -> ``auto_enrollment_default_rate``, ``balances.investment_return``
    -> ``balances_investment_return``). Vesting schedules reach SQL as lists of vested shares.
    ``prior_balances_file`` and ``prior_compliance_file`` default to ``prior_deferral_state_file``:
    in the start year (and the pre-flight's empty census) all are the same census file.
    """
    out: dict[str, Any] = {
        "scenario_id": scn["scenario_id"],
        "plan_design_id": scn["plan_design_id"],
        "simulation_year": int(year),
        "start_year": scn["start_year"],
        "random_seed": scn["random_seed"],
        "starting_workforce_file": str(starting_workforce_file),
        "prior_deferral_state_file": str(prior_deferral_state_file),
        "prior_balances_file": str(prior_deferral_state_file if prior_balances_file is None else prior_balances_file),
        "prior_compliance_file": str(prior_deferral_state_file if prior_compliance_file is None
                                     else prior_compliance_file),
    }
    out.update(scn["workforce"])
    for key, value in scn["plan_design"].items():
        if isinstance(value, dict) and key not in ("core_contribution_bands", "match_tier_bands"):
            out.update({f"{key}_{sub}": v for sub, v in value.items() if f"{key}_{sub}" not in ORCHESTRATION_PLAN_KEYS})
        else:
            out[key] = value
    for source in ("match", "core"):
        out[f"vesting_{source}"] = vesting_schedule(scn["plan_design"]["vesting"][source])
    for test, reason in safe_harbor_reasons(scn["plan_design"]).items():
        out[f"compliance_{test}_deemed_reason"] = reason
    out.update({f"balances_{key}": value for key, value in scn["balances"].items()})
    return out


def config_hash(scn: dict) -> str:
    return hashlib.sha256(json.dumps(scn, sort_keys=True, default=str).encode()).hexdigest()[:16]
