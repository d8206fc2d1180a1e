# Two entry points (see README): `make demo` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CONFIG ?= lm_eval_values/configs/study_smollm2.yaml
OUT    ?= runs/study_smollm2
# OpenMP threads that spin-wait for a descheduled sibling make every forward several times slower
# when another process holds a core (measured: the demo 23 min -> 9 min on a shared 2-core CPU)
OMP_WAIT_POLICY ?= PASSIVE
export OMP_WAIT_POLICY

.PHONY: setup demo test test-slow bench clean

setup: $(STAMP)

# torch==2.13.0 FIRST: a local CPU wheel exists for exactly that version; a looser pin
# would pull several GB of CUDA wheels.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

demo: setup
	$(BIN)/lm-eval-values fetch-model smollm2-135m-instruct
	$(BIN)/lm-eval-values study $(CONFIG) --out $(OUT)

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

# Regenerates BENCHMARKS.md (model, analysis and validity-option figures in one run; about 10-15 min on 2
# shared cores, plus about 3 min when the demo's sweep folder runs/study_smollm2 is not there yet).
bench: setup
	$(BIN)/lm-eval-values fetch-model smollm2-135m-instruct
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info
