"""Config catalogue (SPEC §3.2, §7): every malformed config is refused with one message that
names the file, the key (or line) and the reason.

Data-driven: tests/data/config/cases.yaml lists every fixture under tests/data/config/invalid/
with how it is applied to the base config and the substrings expected. Every case goes
through plansim.config.load_scenarios (fast); the cases marked `snakemake: true` also go through
the real `snakemake` command in a copy of a finished tiny run, which must exit non-zero with the
message, before building the DAG, and leave every file under results/ as it was.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake, tiny_config
from plansim.config import deep_merge, load_scenarios, read_config_file, resolve_config
from plansim.errors import ConfigError, PlansimError

CONFIG_DIR = REPO / "tests" / "data" / "config"
CASES: dict[str, dict] = yaml.safe_load((CONFIG_DIR / "cases.yaml").read_text(encoding="utf-8"))["cases"]
SNAKEMAKE_CASES = sorted(name for name, case in CASES.items() if case.get("snakemake"))
# Snakemake's own reader (the Snakefile's `configfile:`) names neither the file nor the line.
SNAKEMAKE_GENERIC_YAML_ERROR = "Config file is not valid JSON or YAML"


@functools.lru_cache(maxsize=1)
def base_text() -> str:
    """The base config file, exactly as tests/conftest.py write_config(tiny_config()) writes it."""
    return yaml.safe_dump(tiny_config(), sort_keys=False)


def base_config() -> dict:
    return yaml.safe_load(base_text())


def config_text(name: str) -> str:
    case = CASES[name]
    fixture = (CONFIG_DIR / "invalid" / f"{name}.yaml").read_text(encoding="utf-8")
    how = case.get("apply", "patch")
    if how == "append":
        return base_text() + fixture
    if how == "replace":
        return fixture
    assert how == "patch", f"{name}: unknown apply {how!r}"
    patch = yaml.safe_load(fixture)
    assert isinstance(patch, dict) and patch, f"{name}: a patch must be a non-empty mapping"
    return yaml.safe_dump(deep_merge(base_config(), patch), sort_keys=False)


def expected(name: str) -> list[str]:
    """The case's key and reason strings, with {line:N} resolved to a line of the written file."""
    case = CASES[name]
    offset = len(base_text().splitlines())

    def resolve(text: str) -> str:
        return re.sub(r"\{line:(\d+)\}", lambda m: str(offset + int(m.group(1))), text)

    assert case.get("key") and case.get("reason"), f"{name}: a case names the key and the reason"
    return [resolve(s) for s in [*case["key"], *case["reason"]]]


def results_state(wd: Path) -> dict[str, tuple[int, int, str]]:
    """path -> (size, mtime_ns, sha256) of every file under results/."""
    return {str(p.relative_to(wd)): (p.stat().st_size, p.stat().st_mtime_ns,
                                     hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted((wd / "results").rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the table


def test_cases_table_covers_every_fixture() -> None:
    on_disk = {p.stem for p in (CONFIG_DIR / "invalid").iterdir() if p.is_file()}
    assert on_disk == set(CASES), "invalid/ fixtures and cases.yaml disagree"
    assert len(CASES) >= 15
    assert 3 <= len(SNAKEMAKE_CASES) <= 8, "a handful of snakemake runs, not all (each costs ~3 s)"


def test_the_base_config_is_valid() -> None:
    """So each case fails for its own reason only."""
    raw = yaml.safe_load(base_text())
    assert set(resolve_config(raw, base_dir=REPO)) == {"tiny"}


# --------------------------------------------------------------------------- every case, in Python


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_config_is_refused_naming_the_key_and_the_reason(name: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text(name), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scenarios(path, base_dir=REPO)
    message = str(info.value)
    assert isinstance(info.value, PlansimError)
    assert str(path) in message, f"the message must name the file:\n{message}"
    for text in expected(name):
        assert text in message, f"{text!r} not in:\n{message}"


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.get("apply", "patch") == "patch"))
def test_the_parsed_config_dict_gets_the_same_message(name: str) -> None:
    """Snakemake hands rules/common.smk the parsed `config` dict: resolve_config on it must
    report the same key and reason as the file (the source named is the one given)."""
    raw = yaml.safe_load(config_text(name))
    with pytest.raises(ConfigError) as info:
        resolve_config(copy.deepcopy(raw), base_dir=REPO, source="config.yaml")
    message = str(info.value)
    assert message.startswith("config.yaml is invalid:")
    for text in expected(name):
        assert text in message, f"{text!r} not in:\n{message}"


def test_read_config_file_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope\.yaml: cannot be read \(No such file"):
        read_config_file(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- through snakemake


@pytest.fixture(scope="module")
def finished_copy(tiny_run: Path, tmp_path_factory) -> Path:
    """A copy of the finished tiny run (2025-2027, scenario tiny), shared by the cases below:
    each case writes its config, runs snakemake, and restores the config."""
    wd = tmp_path_factory.mktemp("config_catalogue") / "wf"
    shutil.copytree(tiny_run, wd, symlinks=True)
    assert snakemake(wd, "-n", "results/tiny/2027/done").returncode == 0
    return wd


@pytest.mark.slow
@pytest.mark.parametrize("name", SNAKEMAKE_CASES)
def test_snakemake_refuses_the_config_before_any_job_and_results_stay(name: str, finished_copy: Path) -> None:
    wd = finished_copy
    good = (wd / "config.yaml").read_text()
    before = results_state(wd)
    assert before, "the prepared run has results"
    (wd / "config.yaml").write_text(config_text(name), encoding="utf-8")
    try:
        # A real run (not -n) that would rewrite every year's sentinel if the config got
        # through: the unchanged results/ below then means something.
        proc = snakemake(wd, "results/tiny/2027/done", "--cores", "2", "--forcerun", "audit_year", check=False,
                         timeout=300)
    finally:
        (wd / "config.yaml").write_text(good)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "Building DAG of jobs" not in output, "the config must be refused at parse time, before the DAG"
    assert results_state(wd) == before, "a file under results/ changed"
    # rules/common.smk reads config.yaml strictly before Snakemake's own reader could say only this
    # (the Snakefile has no `configfile:`): the message names the file and the line instead
    assert SNAKEMAKE_GENERIC_YAML_ERROR not in output, output[-3000:]
    assert "config.yaml" in output, f"the message must name the file:\n{output[-3000:]}"
    for text in expected(name):
        assert text in output, f"{text!r} not in:\n{output[-3000:]}"
