# Two commands do all set-up on a fresh machine:
#   make run    create the environment, install, run the default sandbox, print where results are
#   make test   set up and run the tests (CI: .ci/run)
# Options (make VAR=value):
#   PYTHON=/path/to/python3.x   interpreter for the environment (default: the first of python3.13,
#                               python3.12, python3.11, python3 on PATH that is >= 3.11)
#   TORCH=cpu|cuda              torch build: cpu (default) = the CPU wheel from TORCH_INDEX, no NVIDIA
#                               packages; cuda = PyPI's default Linux build (CUDA, several GB of nvidia-* wheels)
#   SANDBOX=config/sandboxes/x.yaml   CORES=2
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
SANDBOX ?= config/sandboxes/demo.yaml
CORES ?= 2
TORCH ?= cpu
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
STAMP := $(VENV)/.installed-torch-$(TORCH)
MIN_PYTHON := 3.11
ifndef PYTHON
PYTHON := $(shell for p in python3.13 python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; \
	then command -v $$p; break; fi; done)
endif

.PHONY: resolve install run test test-slow bench corpus image-corpus clean help check-python browser system-programs snakefmt-check

help:
	@echo "make run | make test | make test-slow | make bench | make corpus | make clean   (TORCH=cpu|cuda, PYTHON=...)"

# One line and a non-zero exit when no suitable interpreter exists (before anything is created).
check-python:
	@if [ -z "$(PYTHON)" ] || ! "$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; then \
	  echo "juicer-sandbox needs Python >= $(MIN_PYTHON) (none of python3.13/3.12/3.11/python3 on PATH is; install one, e.g. 'apt-get install python3.11' or 'uv python install 3.11', or pass PYTHON=/path/to/python3.11)" >&2; \
	  exit 1; fi

# $(call pip_lock,PYTHON,EXTRA_PIP_ARGS): pip install of the lock for TORCH (also used by `make resolve`)
define pip_lock
@if [ "$(TORCH)" = cuda ]; then \
  sed -E 's/^(torch==[^+]+)\+cpu$$/\1/' requirements.lock > $(dir $(1))../requirements.txt; idx=""; \
elif [ "$(TORCH)" = cpu ]; then \
  cp requirements.lock $(dir $(1))../requirements.txt; \
  if $(1) -c "import urllib.request; urllib.request.urlopen('$(TORCH_INDEX)/torch/', timeout=15)" 2>/dev/null; \
  then idx="--extra-index-url $(TORCH_INDEX)"; \
  else idx=""; echo "note: $(TORCH_INDEX) does not answer; torch's CPU build must come from pip's own sources"; fi; \
else echo "TORCH must be cpu or cuda, not '$(TORCH)'" >&2; exit 1; fi; \
echo "$(1) -m pip install -q $$idx $(2) -r $(dir $(1))../requirements.txt"; \
$(1) -m pip install -q $$idx $(2) -r $(dir $(1))../requirements.txt
endef

# Exact pins (requirements.lock) so every machine runs the same code. The lock pins torch's CPU
# build (torch==X+cpu), which lives on the PyTorch CPU index: that index is added when it answers
# (a machine with a local wheel in pip's find-links needs no network for it). TORCH=cuda installs
# the same version from PyPI instead. Everything Data-Juicer imports is installed here, so a run
# never installs packages.
$(STAMP): requirements.lock requirements.nodeps.lock pyproject.toml | check-python
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; "$(PYTHON)" -m venv $(VENV); }
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' || { \
	  echo "$(VENV) uses Python $$($(PY) -c 'import platform; print(platform.python_version())'), juicer-sandbox needs >= $(MIN_PYTHON): remove $(VENV) and rerun" >&2; exit 1; }
	rm -f $(VENV)/.installed-torch-*
	$(call pip_lock,$(PY),)
	$(PY) -m pip install -q --no-deps -r requirements.nodeps.lock
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m juicer_sandbox catalog
	touch $(STAMP)

install: $(STAMP)

run: install
	$(SNAKEMAKE) --cores $(CORES) --config sandbox=$(SANDBOX)
	@$(PY) -m juicer_sandbox where $(SANDBOX)

# Debian programs some ops and tests use, installed where apt-get can (CI runs as root):
# chromium (the report's browser test), ffmpeg (video_duration_filter's default backend, which the
# T2V recipes use; the plan refuses such a recipe without it) and a JRE (METEOR of the COCO caption
# metrics). Without root the tests that need them skip with a reason, and the plan names what is missing.
SYSTEM_PROGRAMS = chromium:chromium ffmpeg:ffmpeg java:default-jre-headless
system-programs:
	@missing=""; for p in $(SYSTEM_PROGRAMS); do command -v $${p%%:*} >/dev/null 2>&1 || missing="$$missing $${p#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "apt-get install$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: not installed and not root:$$missing (the tests that need them skip)"; fi; fi

browser: system-programs

snakefmt-check: install
	$(VENV)/bin/snakefmt --check Snakefile rules

test: install system-programs snakefmt-check
	$(PY) -m pytest -q -m "not slow" tests

test-slow: install system-programs
	$(PY) -m pytest -q -m slow tests

bench: install
	$(PY) bench/bench_data_loop.py
	$(PY) bench/bench_train.py

# The demo corpus ships in data/demo; this rebuilds it from Debian packages.
corpus: install
	bash tools/install_corpus_packages.sh
	$(PY) tools/build_demo_corpus.py --out data/demo

# The image-caption corpus ships as data/image_caption/corpus.zip; this rebuilds it (byte-identical
# for the same arguments) from Debian's openclipart and Tux Paint stamps packages.
image-corpus: install
	bash tools/install_image_corpus_packages.sh
	$(PY) tools/build_image_caption_corpus.py --out data/image_caption --seed 0 --thumb 32 --val-frac 0.2 --mismatch-frac 0.1 --translate-frac 0.3

# What `make install` would install, as pip's JSON report (REPORT=...), from a fresh venv in
# RESOLVE_DIR; installs nothing (tests/integration/test_install.py reads it).
RESOLVE_DIR ?= .resolve
REPORT ?= $(RESOLVE_DIR)/report.json
resolve: check-python
	rm -rf $(RESOLVE_DIR) && "$(PYTHON)" -m venv $(RESOLVE_DIR)
	$(call pip_lock,$(RESOLVE_DIR)/bin/python,--dry-run --ignore-installed --report $(abspath $(REPORT)))

clean:
	rm -rf outputs .snakemake
