# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv (Python 3.11) and installs the package into it once.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test test-fast lint install clean

$(VENV)/.installed: setup.py
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/tfgancomp demo -o demo_out --force

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(PY) -m pip install --quiet ruff
	$(PY) -m ruff check tfgancomp train export tests scripts benchmarks

clean:
	rm -rf $(VENV) demo_out *.egg-info
