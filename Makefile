# star_pipeline: every target installs what it needs into .venv first.
#   make dev    start Dagster (`dg dev`) on 127.0.0.1:3000 with the default config and a persistent DAGSTER_HOME
#   make test   run the test suite (the same command CI runs)
#   make build  materialize every asset once from the command line
#   make bench  measure against agentsview, ccusage and DuckDB baselines (see star_pipeline/bench/run.py)
#   make docs   regenerate docs/reference/schema.md and cli.md from the code (star_pipeline/reference_docs.py)

PYTHON ?= python3
VENV ?= .venv
STAR_PIPELINE_HOME ?= $(HOME)/.local/share/star_pipeline
DAGSTER_HOME ?= $(STAR_PIPELINE_HOME)/dagster_home
PORT ?= 3000
export DAGSTER_HOME

.PHONY: install dev test build bench bench-robustness docs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# DAGSTER_HOME holds run history with previews and paths: owner-only, like every file the project makes.
$(DAGSTER_HOME)/dagster.yaml: instance/dagster.yaml
	umask 077 && mkdir -p $(STAR_PIPELINE_HOME) $(DAGSTER_HOME) && chmod 700 $(STAR_PIPELINE_HOME) $(DAGSTER_HOME)
	ln -sf $(CURDIR)/instance/dagster.yaml $(DAGSTER_HOME)/dagster.yaml

dev: install $(DAGSTER_HOME)/dagster.yaml
	chmod -R go-rwx $(DAGSTER_HOME)
	@echo "star_pipeline: Dagster on http://127.0.0.1:$(PORT); reports: .venv/bin/star-pipeline report daily"
	@echo "star_pipeline: dashboard of what the agents did: .venv/bin/star-pipeline serve (then http://127.0.0.1:8484)"
	umask 077 && VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/dg dev --host 127.0.0.1 --port $(PORT)

# One pytest worker per core (pytest-xdist), each test file on one worker: a file's module-scoped warehouses
# are built once, and most of a test's time is one Python thread driving Dagster and DuckDB. TEST_WORKERS=0
# runs the suite in one process.
TEST_WORKERS ?= auto
test: install
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

build: install $(DAGSTER_HOME)/dagster.yaml
	umask 077 && $(VENV)/bin/star-pipeline build

# Benchmarks against baselines measured in the same run: agentsview 0.46.1 (pip-installed into the bench's own
# venv under ~/.cache/star_pipeline/bench, never the project's) and ccusage via npx, each skipped with a note when
# unavailable. BENCH_ARGS="--size-mb 1024 --scaling" for issue 29's runs (1 GB and 4 GB of the distinct real
# corpus); figures are appended to BENCHMARKS.md.
BENCH_ARGS ?= --size-mb 100
bench: install
	$(VENV)/bin/python -m star_pipeline.bench.run $(BENCH_ARGS) --write BENCHMARKS.md

# Builds with the default configuration over hostile, real-shaped and repeated corpora (outcomes and peak
# memory, not speed); appended to BENCHMARKS.md. See star_pipeline/bench/robustness.py.
bench-robustness: install
	$(VENV)/bin/python -m star_pipeline.bench.robustness --write BENCHMARKS.md

# The generated reference pages; star_pipeline_tests/test_reference_docs.py fails while they differ from the code.
docs: install
	$(VENV)/bin/python -m star_pipeline.reference_docs
