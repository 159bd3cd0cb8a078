# Two commands for a fresh machine: `make run` and `make test`. Both create .venv when missing,
# install the project with the pinned set in constraints.txt, and are no-ops when already set up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOME_DIR ?= $(CURDIR)
export DO_NOT_TRACK := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-fast fuzz crash bench lint lock clean help

help:
	@echo "make run    # set up .venv and run the whole pipeline on the bundled sample"
	@echo "make test   # set up .venv and run the test suite"
	@echo "make test-fast # the tests not marked slow (the quick loop; CI runs everything)"
	@echo "make fuzz   # long property-based fuzzing of hostile drops (HYPOTHESIS_PROFILE=fuzz)"
	@echo "make crash  # SIGKILL at all 21 points (make test kills at 8 of them)"
	@echo "make bench  # netflix-elt beside the original scripts and bare DuckDB on a synthetic 1M-row catalog, with a per-stage breakdown (BENCH_ROWS=10000000 for 10M)"
	@echo "make lint   # ruff, ruff format, mypy (no untyped defs), the import contracts (stages import downward), sqlfluff (the dbt SQL)"
	@echo "make lock   # re-pin constraints.txt from a fresh resolve"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "netflix-elt needs Python 3.11+ (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/netflix-elt --home "$(HOME_DIR)" run

test: $(STAMP)
	scripts/setup_bq_emulator.sh .bqemu
	$(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder -m "not slow"

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -m fuzz -n 2 tests/ingest/test_fuzz.py

crash: $(STAMP)
	CRASH_POINTS=all $(BIN)/pytest -q -n 2 --dist loadscope tests/ops/test_crash.py

bench: $(STAMP)  ## BENCH_ROWS=10000000 for the 10M run
	$(BIN)/python benchmarks/bench.py --rows $${BENCH_ROWS:-1000000}

lint: $(STAMP)  ## what CI runs before the tests (and .pre-commit-config.yaml on each commit)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint --quiet src/netflix_elt/dbt_project

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^netflix-elt' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .bqemu .pytest_cache .ruff_cache .test-data
