# Two commands do all the set-up on a fresh machine with Python 3.11 and pip:
#   make run    install into .venv, then simulate the bundled sample census
#   make test   install into .venv, then run the whole test suite (slow lanes included)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: install system-deps run test test-fast bench clean

$(STAMP): pyproject.toml constraints.txt scripts/slurm/requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]" -r scripts/slurm/requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Simulate every scenario, build the workbooks, plots, comparison and the HTML report, then
# print the files to open next and each scenario's key figures.
run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/plansim report --cores $(CORES) --out results/report.html

system-deps:
	bash scripts/ci/install_system_deps.sh

# As root (CI), the local SLURM cluster stays up for the whole session: with slurm-wlm
# installed and no controller, the SLURM executor plugin's scontrol probe makes every
# `snakemake` start wait 10 s.
test: $(STAMP) system-deps
	@keep=0; if [ "$$(id -u)" = 0 ] && command -v slurmctld >/dev/null 2>&1; then \
	  PLANSIM_SLURM_CPUS=8 bash scripts/slurm/start_local_slurm.sh >/dev/null && keep=1; fi; \
	PLANSIM_SLURM_KEEP=$$keep PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest; rc=$$?; \
	if [ $$keep = 1 ]; then bash scripts/slurm/stop_local_slurm.sh >/dev/null 2>&1; fi; exit $$rc

test-fast: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not slow and not fault and not slurm"

# Benchmarks (never part of the test suite): make bench ARGS="--sizes 5000,60000 --reps 3"
bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/bench.py $(ARGS)

clean:
	rm -rf results logs .snakemake .plansim benchmarks/*/
