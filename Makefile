# The two commands: `make run` (the service on this machine, no external service) and
# `make test` (the test suite). Both use PostgreSQL: DATABASE_URL, or the embedded server in var/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

.PHONY: run test bench lint install clean pin db-stop

# A fresh machine: create the virtualenv with Python >= 3.11, install the pinned requirements
# (`make run` only the runtime ones, `make test` the test tools too).
$(VENV)/bin/pip:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "crisiscomm needs Python 3.11 or newer: make PYTHON=python3.11 ..."; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV) \
		|| { echo "cannot create $(VENV) (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }

$(RUN_STAMP): requirements.txt | $(VENV)/bin/pip
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $(RUN_STAMP)

$(STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/pip
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(RUN_STAMP) $(STAMP)

install: $(STAMP)

# Local plain HTTP: no HTTPS redirect, cookies not marked Secure (production keeps both).
run: export CRISISCOMM_SSL_REDIRECT ?= 0
run: export CRISISCOMM_SECURE_COOKIES ?= 0
run: export CRISISCOMM_HSTS_SECONDS ?= 0
# `make run PORT=8080`: the web process listens there and notices link there (unless
# CRISISCOMM_BASE_URL says otherwise); honcho hands PORT to the Procfile's first line.
run: export PORT ?= 8000
run: export CRISISCOMM_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(RUN_STAMP)
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(VENV)/bin/honcho start -f Procfile -p $(PORT)

test: $(STAMP)
	$(PY) tools/run_tests.py $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run_all.py

# Style, the one-way doors between the apps (import-linter, pyproject.toml) and the house rules
# (no module over 600 lines, no import cycle: tools/check_architecture.py). `.ci/run` runs it.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) tools/check_architecture.py

# Re-pin every transitive dependency from what .venv/ runs (top-level lines stay as written).
pin: $(STAMP)
	$(PY) tools/pin_requirements.py

# The embedded PostgreSQL server (used when DATABASE_URL is unset) outlives `make run`.
db-stop:
	@if [ -x $(PY) ]; then $(PY) -m crisiscomm.embedded_db stop; fi

clean: db-stop
	rm -rf $(VENV) var
