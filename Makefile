# Human entry points. `make dev` runs the local stack; `make test` runs every check (CI too).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
TOOLS := .venv-tools
SCAN := .venv-scan
PY := $(VENV)/bin/python
export SAM_CLI_TELEMETRY := 0
# sam build needs python3.13 on PATH; under pyenv this puts it there beside 3.11.
export PYENV_VERSION ?= 3.11.7:3.13.0

.PHONY: help dev test lint typecheck template unit integration local-tests e2e browser chromium \
        build bench openapi deploy clean quality verify scanners

help:
	@echo "make dev      - start the local stack on 127.0.0.1:$${YOOSR_PORT:-3000} (Ctrl-C stops it)"
	@echo "make test     - lint, type check, template checks, build, every test suite (browser too)"
	@echo "make verify   - the quality suites' long variants; writes QUALITY.md"
	@echo "make bench    - cold start and DynamoDB cost figures (BENCHMARKS.md)"
	@echo "make build    - sam build (no Docker needed)"
	@echo "make deploy   - sam deploy --guided"

$(VENV)/.installed: requirements/dev.txt layers/deps/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt 2>&1 \
		| { grep -v "^WARNING: Location" || true; }
	touch $@

$(TOOLS)/.installed: requirements/tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements/tools.txt 2>&1 \
		| { grep -v "^WARNING: Location" || true; }
	touch $@

$(SCAN)/.installed: requirements/scan.txt
	test -x $(SCAN)/bin/python || $(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/pip install --quiet --disable-pip-version-check -r requirements/scan.txt 2>&1 \
		| { grep -v "^WARNING: Location" || true; }
	touch $@

scanners: $(SCAN)/.installed

dev: $(VENV)/.installed
	$(PY) -m local

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

template: $(TOOLS)/.installed
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit -q

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration -q

local-tests: $(VENV)/.installed
	$(PY) -m pytest tests/local -q

e2e: $(VENV)/.installed
	$(PY) -m pytest tests/e2e -q

# The browser tests (tests/browser) drive Debian's Chromium with Playwright. As root (CI) it is
# installed when missing; otherwise, or if that fails, the browser tests skip and say why.
CHROMIUM := $(or $(YOOSR_CHROMIUM),/usr/bin/chromium)
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium could not be installed: the browser tests will be skipped"; \
	else \
		echo "No $(CHROMIUM) (apt-get install chromium as root): the browser tests will be skipped"; \
	fi

browser: $(VENV)/.installed chromium
	$(PY) -m pytest tests/browser -q

build: $(TOOLS)/.installed
	$(TOOLS)/bin/sam build --parallel

test: lint typecheck template build chromium scanners
	$(PY) -m pytest -q --ignore=tests/browser
	@# Browser tests in their own process: Playwright's sync API keeps an asyncio loop running
	@# in the main thread for the session, which breaks every in-process handler after it.
	$(PY) -m pytest -q tests/browser

# The quality suites (tests/quality, issue 8): `make test` runs their short variants; `make verify`
# runs the long ones (more cases, 10,000 messages) and writes QUALITY.md from .quality/*.json.
quality: $(VENV)/.installed $(TOOLS)/.installed scanners
	$(PY) -m pytest -q tests/quality

verify: $(VENV)/.installed build scanners
	rm -rf .quality
	YOOSR_QUALITY=long $(PY) -m pytest -q tests/quality
	$(PY) scripts/quality_report.py

bench: $(VENV)/.installed
	$(PY) bench/run.py

openapi: $(VENV)/.installed
	$(PY) scripts/export_openapi.py

# A dashboard session token from the running `make dev` stack's development Clerk issuer:
#   make token [WORKSPACE=acme] [ROLE=admin|agent] [USER_ID=user_…] [LIFETIME=seconds]
.PHONY: token
token: $(VENV)/.installed
	@$(PY) -m local token --workspace $(or $(WORKSPACE),acme) --role $(or $(ROLE),admin) \
		$(if $(USER_ID),--user $(USER_ID)) $(if $(LIFETIME),--lifetime $(LIFETIME))

deploy: build
	$(TOOLS)/bin/sam deploy --guided

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .yoosr-local .quality
