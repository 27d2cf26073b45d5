"""A plain (non-editable) install of plansim has what it needs: the config schema as package data,
the report extra of Snakemake, and every package it imports directly."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "scripts" / "plansim"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """plansim built as a wheel from a copy of its sources and installed (no deps) into a folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    (src / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copytree(ROOT / "schemas", src / "schemas")
    shutil.copytree(PACKAGE, src / "scripts" / "plansim", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(src)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel, = (tmp / "dist").glob("plansim-*.whl")
    site = tmp / "site"
    inst = subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, inst.stderr[-3000:]
    return site


def test_the_installed_package_validates_a_config_with_its_own_schema(installed, tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("start_year: 2025\nend_year: 2024\n")
    code = ("import plansim.config as c, sys\n"
            "print(c.SCHEMA_PATH)\n"
            "try:\n    c.load_scenarios(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    # -I would drop the venv's own site-packages too; PYTHONPATH puts the installed copy first
    proc = subprocess.run([sys.executable, "-c", code, str(bad)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    schema_path, message = proc.stdout.splitlines()[0], "\n".join(proc.stdout.splitlines()[1:])
    assert Path(schema_path).is_file() and Path(schema_path).is_relative_to(installed), schema_path
    assert Path(schema_path).read_bytes() == (ROOT / "schemas" / "config.schema.yaml").read_bytes()
    assert message.startswith("ConfigError") and str(bad) in message, message


def _imported_top_level(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


# import name -> distribution name, where they differ
DISTRIBUTION = {"yaml": "pyyaml", "dbt": "dbt-core", "python_calamine": "python-calamine"}


def test_every_third_party_import_of_the_package_is_a_declared_dependency():
    declared = {req.split("[")[0].split("~")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
                for req in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    imported = set().union(*(_imported_top_level(p) for p in PACKAGE.glob("*.py")))
    third_party = {name for name in imported - set(sys.stdlib_module_names) if name != "plansim"}
    missing = {DISTRIBUTION.get(name, name) for name in third_party} - declared
    assert not missing, f"imported by scripts/plansim but not in pyproject.toml's dependencies: {sorted(missing)}"
    # `snakemake --report` needs pygments, which only Snakemake's `reports` extra brings
    assert any(req.startswith("snakemake[reports]")
               for req in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
