# dailyfresh: `make run` serves the shop, `make test` runs every test. Both bootstrap everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PYTHONUNBUFFERED := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test bench screenshots services test-deps lint clean up down status logs nginx cluster-up cluster-down cluster-status

# A stock Debian/Ubuntu has no python3-venv: the bootstrap installs it (with MariaDB and Redis) first.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || PYTHON=$(PYTHON) scripts/ensure-services.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@ $(VENV)/.run-deps

## MariaDB and Redis installed, running and answering; the shop's own MariaDB account (see README, Quick start).
services:
	@PYTHON=$(PYTHON) scripts/ensure-services.sh
	@PYTHON=$(PYTHON) scripts/ensure-mroonga.sh

test-deps:
	@scripts/ensure-test-deps.sh

## Serve the shop on http://127.0.0.1:8000 and the local Alipay sandbox on :8100 (Ctrl-C stops both).
run: $(VENV)/.run-deps services
	$(BIN)/python -m fresh migrate
	$(BIN)/python -m fresh keys
	$(BIN)/python -m fresh seed --demo
	$(BIN)/python app.py --with-sandbox

## Production-shaped on one machine: N app processes (default 2: `make up N=4`) under supervisor, nginx on :8080 in
## front (static files, the static index, websockets) and, outside production, the sandbox gateway. Configs are
## rendered for this checkout into var/deploy/; logs in var/log/. `make down` stops it all.
N ?= 2
up: $(VENV)/.run-deps services nginx
	$(BIN)/python -m fresh migrate
	@if [ "$$($(BIN)/python -c 'from fresh.settings import load_settings; print(load_settings().mode)')" != production ]; then \
	  $(BIN)/python -m fresh keys && $(BIN)/python -m fresh seed --demo; fi
	$(BIN)/python -m fresh.deploy up --processes $(N)

down: | $(BIN)/python
	@$(BIN)/python -m fresh.deploy down

status: | $(BIN)/python
	@$(BIN)/python -m fresh.deploy status

logs: | $(BIN)/python
	@$(BIN)/python -m fresh.deploy logs

## Several machines rehearsed on this one (root): network-namespace hosts lb (nginx), app1 and app2 (2 processes
## each), db1 (MariaDB primary, Redis primary, Sentinel), db2 (their replicas, Sentinel) and a third Sentinel, with
## the configs `make up` renders. Files and logs in var/cluster/<host>/. README: "Several machines". `services`
## installs MariaDB and Redis where missing (the hosts run their binaries).
cluster-up: $(VENV)/.run-deps services nginx
	@$(BIN)/python -m fresh.cluster up

cluster-down: | $(BIN)/python
	@$(BIN)/python -m fresh.cluster down

cluster-status: | $(BIN)/python
	@$(BIN)/python -m fresh.cluster status

nginx:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "installing nginx"; \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx >/dev/null; }

## Run the whole test suite against its own database (dailyfresh_test) and Redis database (15).
test: $(VENV)/.dev-deps services test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

## Benchmarks (not part of `make test`): seed dailyfresh_bench + Redis db 10, measure every hot path against the
## ceilings of the same run, write BENCHMARKS.md. Knobs: BENCH_SECONDS, BENCH_PROCESSES, BENCH_BASE_URL, BENCH_ONLY.
bench: $(VENV)/.dev-deps services
	@command -v wrk >/dev/null || { echo "installing wrk"; \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	@command -v redis-benchmark >/dev/null || { echo "installing redis-tools"; \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-tools >/dev/null; }
	$(BIN)/python -m bench.run

## PNGs of the main pages, taken by Chromium during a real purchase, into docs/screenshots/ (own database
## dailyfresh_screens and Redis db 7; the shop and the sandbox run in the script on free ports).
screenshots: $(VENV)/.dev-deps services test-deps
	$(BIN)/python scripts/screenshots.py
