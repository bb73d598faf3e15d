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

# Migrate, install the schedule, make sure an admin exists, then run every process in the foreground under
# supervisord (supervisord.conf): the stores start first and stop last. Ctrl-C stops everything in order; supervisord
# runs as the terminal's foreground job (scripts/foreground.py), so make exits with its status, 0, not 130.
# The consumer and NATS run only when nats-server is installed.
DM_VAR_DIR ?= $(CURDIR)/var
DM_MONGO_PORT ?= 27017
DM_NATS_PORT ?= 4222
API_PORT ?= 8000
RUN_ENV = DM_VAR_DIR=$(DM_VAR_DIR) DM_MONGO_PORT=$(DM_MONGO_PORT) DM_NATS_PORT=$(DM_NATS_PORT) API_PORT=$(API_PORT) \
	MONGODB_URL=$${MONGODB_URL:-mongodb://127.0.0.1:$(DM_MONGO_PORT)/petrosa_dm} \
	NATS_URL=$${NATS_URL:-nats://127.0.0.1:$(DM_NATS_PORT)}

run: deps
	mkdir -p $(DM_VAR_DIR)/mongo $(DM_VAR_DIR)/nats $(DM_VAR_DIR)/celery-broker
	$(RUN_ENV) $(DJANGO) migrate --noinput
	$(RUN_ENV) $(DJANGO) collectstatic --noinput --verbosity 0
	$(RUN_ENV) $(DJANGO) install_schedule
	$(RUN_ENV) $(DJANGO) ensure_admin
	@if command -v nats-server >/dev/null; then with_nats=true; \
	  else echo "nats-server not found: running without NATS and the consumer (apt-get install nats-server)"; \
	  with_nats=false; fi; \
	$(RUN_ENV) DM_WITH_NATS=$$with_nats exec $(BIN)/python scripts/foreground.py $(BIN)/supervisord -c supervisord.conf

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
