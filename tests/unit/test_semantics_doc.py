"""docs/semantics.md names every config key.

The keys are computed from schemas/config.schema.yaml at test time: the top-level keys (except
the tables `scenarios`, `plan_designs`, `sweeps`), every workforce sub-key, and every property of
`$defs/plan_design`, each with its nested sub-properties (objects and the items of lists of
objects), at any depth. A key counts as documented when it appears inside backticks in the doc
as its leaf name (`opt_out_window_days`), as parent.leaf (`auto_enrollment.opt_out_window_days`)
or as its full dotted path (`plan_design.auto_enrollment.opt_out_window_days`).
"""

from __future__ import annotations

import re

import yaml

from conftest import REPO

SCHEMA = REPO / "schemas" / "config.schema.yaml"
DOC = REPO / "docs" / "semantics.md"
TABLE_KEYS = {"scenarios", "plan_designs", "sweeps"}
CODE_SPAN = re.compile(r"`([^`\n]+)`")


def _resolve(node: dict, schema: dict) -> dict:
    """A schema node with a local $ref (#/$defs/<name>) merged in."""
    ref = node.get("$ref")
    if not ref:
        return node
    assert ref.startswith("#/$defs/"), f"unexpected $ref {ref!r}"
    return {**_resolve(schema["$defs"][ref.split("/")[-1]], schema), **{k: v for k, v in node.items() if k != "$ref"}}


def _walk(node: dict, path: tuple[str, ...], schema: dict):
    """Every property path below ``node``; list items' properties hang under the list's name."""
    node = _resolve(node, schema)
    for key, sub in (node.get("properties") or {}).items():
        yield (*path, key)
        yield from _walk(sub, (*path, key), schema)
    items = node.get("items")
    if isinstance(items, dict):
        yield from _walk(items, path, schema)


def config_key_paths() -> list[tuple[str, ...]]:
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    paths: list[tuple[str, ...]] = []
    for key, sub in schema["properties"].items():
        if key in TABLE_KEYS:
            continue
        paths.append((key,))
        paths.extend(_walk(sub, (key,), schema))
    paths.extend(_walk(schema["$defs"]["plan_design"], ("plan_design",), schema))
    return list(dict.fromkeys(paths))


def spellings(path: tuple[str, ...]) -> set[str]:
    out = {path[-1], ".".join(path)}
    if len(path) >= 2:
        out.add(".".join(path[-2:]))
    return out


def documented_names() -> set[str]:
    return {span.strip() for span in CODE_SPAN.findall(DOC.read_text(encoding="utf-8"))}


def test_schema_walk_finds_nested_keys() -> None:
    paths = config_key_paths()
    assert any(p[0] == "workforce" and len(p) >= 3 for p in paths), "no nested workforce key found in the schema"
    assert any(p[0] == "plan_design" and len(p) >= 3 for p in paths), "no nested plan-design key found in the schema"


def test_every_config_key_is_named_in_semantics_doc() -> None:
    assert DOC.is_file(), f"{DOC} is missing"
    names = documented_names()
    missing = [".".join(p) for p in config_key_paths() if not spellings(p) & names]
    assert not missing, (
        f"{len(missing)} config key(s) of {SCHEMA.relative_to(REPO)} are not named in backticks in "
        f"{DOC.relative_to(REPO)} (as `leaf` or `parent.leaf`):\n  " + "\n  ".join(missing))
