# make demo: one night of the sample district, end to end, on loopback servers (FORMAT=xlsx: its Excel
#            twin; FORMAT=oneroster: its OneRoster twin).
# make test: the whole test suite (real SFTP and SMTP servers, Airflow on SQLite).
# make lint: ruff check, ruff format --check and mypy (settings in pyproject.toml).
# make up:   Airflow standalone (UI on http://localhost:8080, Rosters view on /rosters/) with the same loopback servers.
# make lock: recompile requirements.txt (runtime) and requirements-dev.txt (demo, tests) from their .in files.
# make e2e:  the docker-compose.yaml topology (PostgreSQL, Redis, api-server, scheduler, dag-processor,
#            triggerer, two Celery workers) started natively; one night triggered over the REST API.
# make compose-env: .env and local keys for `docker compose up` (random secrets, pinned host key).
# make fleet: FLEET_DISTRICTS (24) nights at once on the e2e topology, measured (FLEET_EXECUTOR=local:
#             LocalExecutor); prints the numbers and writes docs/SCALE.md.
# make docs: docs/DISTRICT_CONFIG.md and include/districts/district.schema.json from the config models.

PYTHON ?= python3.11
VENV := .venv
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9

.PHONY: demo test lint up lock clean venv e2e fleet compose-env docs

venv: $(VENV)/.installed

# Bytecode compiled at install: with PYTHONDONTWRITEBYTECODE set, every task process would recompile
# Airflow and pandas on import.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) pip install --quiet --compile-bytecode --python $(VENV)/bin/python -r requirements.txt -r requirements-dev.txt
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps -e .
	touch $@

demo: venv
	scripts/demo.sh

test: venv
	$(VENV)/bin/python -m pytest -q

lint: venv
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy

up: venv
	scripts/up.sh

e2e: venv
	scripts/e2e.sh

FLEET_DISTRICTS ?= 24
FLEET_EXECUTOR ?= celery
fleet: venv
	FLEET_DISTRICTS=$(FLEET_DISTRICTS) FLEET_EXECUTOR=$(FLEET_EXECUTOR) scripts/fleet.sh

compose-env:
	scripts/compose-env.sh

# This checkout's models, whichever checkout the venv's editable install points at.
docs: venv
	PYTHONPATH=plugins $(VENV)/bin/python -m roster.config.reference

lock: venv
	$(UV) pip compile --python-version 3.11 requirements.in -o requirements.txt \
		--annotation-style line --custom-compile-command "make lock"
	$(UV) pip compile --python-version 3.11 requirements-dev.in -o requirements-dev.txt \
		--annotation-style line --custom-compile-command "make lock"

clean:
	rm -rf var .pytest_cache .hypothesis

# make bench: the nightly transform against the floor (pyarrow alone) and a naive peer, at 100k, 1M
# and 5M rows, and DAG parsing with 1,000 districts; prints the table and writes docs/PERFORMANCE.md.
# Generated data stays under var/bench. Shorter: make bench BENCH_ROWS=100000,1000000 BENCH_REPEAT=1
BENCH_ROWS ?= 100000,1000000,5000000
BENCH_REPEAT ?= 3
.PHONY: bench
bench: venv
	$(VENV)/bin/python bench/run.py --rows $(BENCH_ROWS) --repeat $(BENCH_REPEAT)
