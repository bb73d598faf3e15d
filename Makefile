# The two commands: `make run` (the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DJANGO := $(BIN)/python manage.py

.PHONY: run test deps lint check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	./scripts/system-deps.sh
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

deps: $(VENV)/.installed

# Migrate, install the schedule, make sure an admin exists, then run every process in the foreground.
# Ctrl-C stops them all. The consumer and NATS run only when nats-server is installed.
run: deps
	mkdir -p var/mongo var/nats var/celery-broker
	$(DJANGO) migrate --noinput
	$(DJANGO) collectstatic --noinput --verbosity 0
	$(DJANGO) install_schedule
	$(DJANGO) ensure_admin
	@if command -v nats-server >/dev/null; then procs="mongo nats web worker beat consumer"; \
	  else echo "nats-server not found: running without NATS and the consumer (apt-get install nats-server)"; \
	  procs="mongo web worker beat"; fi; \
	exec $(BIN)/honcho -f Procfile start $$procs

test: deps
	$(BIN)/python -m petrosa_dm.testing.services $(BIN)/pytest $(PYTEST_ARGS)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: deps
	$(DJANGO) check
	$(DJANGO) makemigrations --check --dry-run
	$(DJANGO) spectacular --validate --fail-on-warn --file /dev/null

bench: deps
	$(BIN)/python -m petrosa_dm.testing.services $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) staticfiles
