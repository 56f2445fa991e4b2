# exorelay — the two commands a new user needs are `make demo` (arrives with the devnet) and `make test`.
# Every target is idempotent: stamps record what was installed, so a second run only re-checks.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
PY_STAMP := $(VENV)/.exorelay-installed
NODE_STAMP := node_modules/.exorelay-installed
# Paths mypy --strict and ruff check; generated protobuf code is excluded in pyproject.toml.
LINT_PATHS := relayer indexer storage avs devnet tests bench

.PHONY: all deps browser test test-fast lint typecheck pytest contracts contracts-check proto bench demo clean

all: test

# Python: a local venv with uv (≈10× faster than pip) and both distributions in editable mode: the
# production one (exocore-relayer, with dev extras) and the simulator (exorelay-devnet, devnet/).
# --compile-bytecode: uv writes no .pyc by default; where PYTHONDONTWRITEBYTECODE is set, every process
# would then compile every library it imports from source again, which costs more than the import.
$(PY):
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml devnet/pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check 'uv>=0.4'
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -e '.[dev]' -e ./devnet
	touch $@

# Node: solc, OpenZeppelin sources, anvil and OZ merkle-tree, exactly as locked.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: $(PY_STAMP) $(NODE_STAMP)

# Headless Chromium + its WebDriver for the explorer's browser tests (Debian packages; ~1.5 min once).
# Checked with `command -v` on every run, so a machine that already has them installs nothing.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "the explorer tests need chromium and chromedriver: apt-get install chromium chromium-driver (as root)" >&2; exit 1; fi

# ruff, then the layer contracts in .importlinter (protocol is pure, production never imports the
# simulator, the read side never imports the write side).
lint: deps
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/lint-imports

typecheck: deps
	$(VENV)/bin/mypy --strict $(LINT_PATHS)

# pytest-xdist: one worker per core (the suite is process- and CPU-bound: anvil, devnet, PostgreSQL,
# BLS), at most MAX_TEST_WORKERS, because every worker starts its own session anvil + deployment and
# more workers than cores only add contention. tests/conftest.py schedules by test file (module-scoped
# chains and devnets are set up once, a file's tests never run concurrently) except the files it lists
# as splittable. Each worker has its own PostgreSQL schemas, free ports and temp dirs.
# TEST_WORKERS=0: one process.
MAX_TEST_WORKERS := 4
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < $(MAX_TEST_WORKERS) ? n : $(MAX_TEST_WORKERS) )))
XDIST_ARGS = -n $(TEST_WORKERS) --dist loadfile

# Test runs cache the bytecode of the repository's own modules (in the git-ignored __pycache__/ next to
# each source): with PYTHONDONTWRITEBYTECODE set, every xdist worker and every `exorelay` process a
# test starts compiled relayer/, devnet/, storage/ and the test modules (pytest's assertion rewrite)
# from source again, ~12 CPU-s of collection per worker out of ~20. Python checks each cache against
# its source's mtime and size, so an edit is never run stale.
TEST_ENV := env -u PYTHONDONTWRITEBYTECODE

pytest: deps browser
	$(TEST_ENV) $(VENV)/bin/pytest $(XDIST_ARGS) $(PYTEST_ARGS)

# Solidity → committed ABI + bytecode in relayer/l1/abi, package data of the relayer (npm solc 0.8.30, deterministic output).
contracts: $(NODE_STAMP)
	node contracts/build.mjs

# CI gate: the committed artifacts must be exactly what the sources compile to.
contracts-check: $(NODE_STAMP)
	node contracts/build.mjs --check

# Regenerate the committed gRPC/protobuf code under relayer/exocore/proto from proto/ (a test checks staleness).
proto: $(PY_STAMP)
	$(PY) proto/generate.py

test: deps lint typecheck contracts-check pytest

# The fast lane for the edit-test loop: unit, contract and API tests (~170 CPU-s measured under load, on a busy
# two-core machine). Skips what tests/conftest.py marks e2e (whole system), browser (Chromium) and slow
# (py_ecc reference backend, whole-stack pipeline tests, daemons); `make test` (what CI runs) still
# runs everything. Extra pytest arguments: FAST_ARGS='-k name -x'.
FAST_MARKERS := not e2e and not browser and not slow
test-fast: deps
	$(TEST_ENV) $(VENV)/bin/pytest -q $(XDIST_ARGS) -m "$(FAST_MARKERS)" $(FAST_ARGS)

# The whole system on this machine, narrated: devnet + anvil + relayer (SQLite) + API, fresh each run
# (.exorelay/demo), running until Ctrl-C. `make demo DEMO_ARGS=--once` exits after the scenario.
demo: deps
	$(VENV)/bin/exorelay demo $(DEMO_ARGS)

# Every benchmark script (not bench/__init__.py, nor bench/bare_endpoint.py, a server the indexer
# benchmark starts); `make bench BENCH_ARGS=--quick` runs the small versions. Each prints its
# figures next to a floor measured in the same run, and the ratio.
BENCH_SCRIPTS := $(filter-out bench/__init__.py bench/bare_endpoint.py,$(wildcard bench/*.py))
bench: deps
	for b in $(BENCH_SCRIPTS); do echo "== $$b"; $(PY) $$b $(BENCH_ARGS) || exit 1; done

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache .grimp_cache
	find . -name __pycache__ -type d -not -path './node_modules/*' -prune -exec rm -rf {} +
