# Two commands for a new user: `make demo` and `make test`. Both create .venv/ when it is
# missing or stale and are safe to run twice.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CONSTRAINTS := constraints-debian12.txt
STAMP := $(VENV)/.sclstm-installed
R_STAMP := $(VENV)/.sclstm-r-installed
BENCH_STAMP := $(VENV)/.sclstm-bench-installed

# R-side targets (tests of the R package) are defined in r-package/r.mk and listed in R_TESTS.
R_TESTS :=
-include r-package/r.mk

.PHONY: venv venv-r demo test test-py bench bench-scale bench-accuracy bench-accuracy-quick clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU build on local disk, never the multi-GB CUDA build.
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[test]"
	touch $@

# R from Debian (apt) plus rpy2/anndata2ri in the venv: needed by the R-side tests.
venv-r: $(R_STAMP)

$(R_STAMP): $(STAMP) scripts/install-r.sh
	bash scripts/install-r.sh
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[test,r]"
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[test,bench]"
	touch $@

demo: venv
	$(VENV)/bin/sclstm demo

# OMP_NUM_THREADS=1, as for the R tests (r-package/r.mk): on this 2-core machine the suite took
# 730 s with one thread against 1,026 s with the default in CI (2026-12-07).
test-py: venv-r
	SCLSTM_TEST_STRICT=true OMP_NUM_THREADS=1 $(PY) -m pytest

test: test-py $(R_TESTS)

bench: $(BENCH_STAMP)
	$(PY) benchmarks/bench_core.py $(ARGS)

# Time and peak memory vs cells, ScLSTM beside scanpy, on simulated data (10k, 30k, 100k cells
# by default); ARGS passes options, e.g. ARGS="--sizes 1000000 --scanpy-max 100000 --backed".
bench-scale: $(BENCH_STAMP)
	$(PY) benchmarks/bench_scale.py $(ARGS)

# Accuracy against peers, 7 datasets × 5 seeds (about an hour on 2 cores); ARGS passes options.
bench-accuracy: $(BENCH_STAMP)
	$(PY) benchmarks/bench_accuracy.py $(ARGS)

bench-accuracy-quick: $(BENCH_STAMP)
	$(PY) benchmarks/bench_accuracy.py --quick $(ARGS)

clean-venv:
	rm -rf $(VENV)
