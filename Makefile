# make demo / make test: each creates .venv when missing, installs graphc into it, then runs.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz coverage lint clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev,examples]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m graphc demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2

# The differential fuzzer at full strength (see tests/fuzz/__main__.py): FUZZ_N programs, every
# oracle; FUZZ_SEED (printed) repeats or resumes a run.
fuzz: $(STAMP)
	GRAPHC_VERIFY_PASSES=1 FUZZ_N=$${FUZZ_N:-20000} $(VENV)/bin/python -m tests.fuzz

# Line coverage of graphc/ and passes/ by the suite (docs/testing.md).
coverage: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 --cov=graphc --cov=passes --cov-report=term-missing:skip-covered

lint: $(STAMP)
	$(VENV)/bin/ruff check graphc passes tests examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
