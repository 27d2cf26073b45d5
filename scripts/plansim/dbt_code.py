"""What each phase of a year builds from: its dbt files, their content hash, and the dbt vars
its SQL reads. One table (:data:`PHASE_SOURCES`) serves the rules' re-run triggers
(``params.code``, ``params.vars``), the model docs rule and the tests.

The vars are found without dbt, at Snakemake's parse time: every ``var('name')`` in the
phase's own files, plus those of every macro (and generic test) the files call, followed
through macros that call macros. ``tests/unit/test_phase_contract.py`` holds the result equal
to what dbt's own parse says each phase's selector compiles.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

DBT_DIR = Path("dbt")

# Shared by both phases: a change re-runs both.
COMMON_SOURCES = ("dbt_project.yml", "profiles.yml", "selectors.yml", "macros/*.sql")
# Each phase's own files (relative to DBT_DIR): the models, their YAML (tests, unit tests) and
# seeds its selector (dbt/selectors.yml) builds.
PHASE_SOURCES = {
    "workforce": ("models/staging/*stg_starting*", "models/intermediate/workforce/*", "tests/workforce/*"),
    "plan": ("models/staging/*stg_prior*", "models/intermediate/plan/*",
             "models/intermediate/compliance/*", "models/marts/*", "seeds/*", "tests/plan/*"),
}

VAR = re.compile(r"""\bvar\(\s*['"]{1,2}([A-Za-z0-9_]+)['"]{1,2}""")  # '' inside a quoted YAML string
MACRO = re.compile(r"\{%-?\s*(macro|test)\s+([A-Za-z0-9_]+)\s*\((.*?)\{%-?\s*end(?:macro|test)\s*-?%\}", re.S)


def _glob(patterns, root: Path) -> list[Path]:
    return sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()})


def phase_files(phase: str, root: Path = DBT_DIR) -> list[Path]:
    """The files a phase builds from, common ones included (sorted, relative to the working directory)."""
    return _glob(COMMON_SOURCES + PHASE_SOURCES[phase], root)


def content_hash(paths) -> str:
    digest = hashlib.sha256()
    for path in sorted(set(map(str, paths))):
        digest.update(path.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# What dbt itself writes into the project directory: not code.
SKIP_DIRS = {"target", "logs", "dbt_packages"}


def project_hash(root: Path = DBT_DIR) -> str:
    """The content hash of the whole dbt project (the pre-flight's key)."""
    return content_hash(p for p in root.rglob("*")
                        if p.is_file() and not SKIP_DIRS & set(p.parts) and p.name != ".user.yml")


def code_hash(phase: str, root: Path = DBT_DIR) -> str:
    """The content hash of the phase's files: editing one re-runs exactly the phases that build from it."""
    return content_hash(phase_files(phase, root))


def _macros(root: Path) -> dict[str, tuple[set[str], str]]:
    """name -> (vars read in its body, body) for every macro and generic test of the project."""
    out = {}
    for path in _glob(("macros/*.sql",), root):
        for kind, name, body in MACRO.findall(path.read_text()):
            out[name if kind == "macro" else f"test_{name}"] = (set(VAR.findall(body)), body)
    return out


def _called(text: str, macros: dict) -> set[str]:
    """Macros a piece of Jinja/YAML calls: ``name(`` in SQL, a generic test named as a YAML key."""
    return {name for name in macros
            if re.search(rf"\b{name}\s*\(", text) or
            (name.startswith("test_") and re.search(rf"(^|[\s-]){name[5:]}\s*:?\s*$", text, re.M))}


@cache
def _phase_var_names(phase: str, root: Path) -> frozenset[str]:
    macros = _macros(root)
    own = [p for p in _glob(PHASE_SOURCES[phase], root) if p.suffix in (".sql", ".yml")]
    found: set[str] = set()
    todo: set[str] = set()
    for path in own:
        text = path.read_text()
        found |= set(VAR.findall(text))
        todo |= _called(text, macros)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found |= macros[name][0]
        todo |= _called(macros[name][1], macros) - seen
    return frozenset(found)


def phase_var_names(phase: str, root: Path = DBT_DIR) -> frozenset[str]:
    """Every dbt var the phase's models, tests and the macros they call read."""
    return _phase_var_names(phase, Path(root))


def manifest_vars_read(manifest, nodes) -> set[str]:
    """Every var() in the nodes' code and test arguments, and in the macros they call (transitively,
    as dbt's parse recorded the calls): the same question as :func:`phase_var_names`, asked of dbt."""
    import json

    text, todo, seen = [], [], set()
    for node in nodes:
        text.append(getattr(node, "raw_code", "") or "")
        if getattr(node, "test_metadata", None) is not None:
            text.append(json.dumps(node.test_metadata.kwargs))
        todo.extend(node.depends_on.macros)
    while todo:
        uid = todo.pop()
        if uid in seen or uid not in manifest.macros:  # dbt's and the adapter's own macros read no var of ours
            continue
        seen.add(uid)
        text.append(manifest.macros[uid].macro_sql)
        todo.extend(manifest.macros[uid].depends_on.macros)
    return set(VAR.findall("\n".join(text)))


def unit_test_scope(manifest, dbt_vars: dict) -> dict:
    """The vars the project's unit tests see from the run rather than from their own overrides:
    their outcome is a function of the dbt code and these values alone."""
    seen: dict = {}
    for test in manifest.unit_tests.values():
        compiled, todo = [], [test.depends_on.nodes[0]]
        while todo:  # the model, and the ephemeral models compiled into it
            node = manifest.nodes[todo.pop()]
            compiled.append(node)
            todo.extend(uid for uid in node.depends_on.nodes
                        if uid in manifest.nodes and manifest.nodes[uid].config.materialized == "ephemeral")
        overridden = set((test.overrides.vars if test.overrides else None) or {})
        for name in sorted(manifest_vars_read(manifest, compiled) - overridden):
            seen[name] = dbt_vars.get(name)
    return dict(sorted(seen.items()))
