# Two commands do all set-up on a fresh machine:
#   make run    create the environment, install, run the default sandbox, print where results are
#   make test   set up and run the tests
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
STAMP := $(VENV)/.installed
SANDBOX ?= config/sandboxes/demo.yaml
CORES ?= 2

.PHONY: install run test test-slow bench corpus clean help

help:
	@echo "make run | make test | make test-slow | make bench | make corpus | make clean"

# Exact pins (requirements.lock) so every machine runs the same code; torch is the CPU
# build. Everything Data-Juicer imports is installed here, so a run never installs packages.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m juicer_sandbox catalog
	touch $(STAMP)

install: $(STAMP)

run: install
	$(SNAKEMAKE) --cores $(CORES) --config sandbox=$(SANDBOX)
	@$(PY) -m juicer_sandbox where $(SANDBOX)

test: install
	$(PY) -m pytest -q -m "not slow" tests

test-slow: install
	$(PY) -m pytest -q -m slow tests

bench: install
	$(PY) bench/bench_data_loop.py
	$(PY) bench/bench_train.py

# The demo corpus ships in data/demo; this rebuilds it from Debian packages.
corpus:
	bash tools/install_corpus_packages.sh
	python3 tools/build_demo_corpus.py --out data/demo

clean:
	rm -rf outputs .snakemake
