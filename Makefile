# Two commands a new user needs: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,docs,drivers,aws]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/fibtrigger migrate
	$(BIN)/fibtrigger compute 0 10 20 92
	$(BIN)/fibtrigger table

# Four pytest-xdist processes, one test file each at a time (most tests wait on servers, not the
# CPU); `make test PYTEST_ARGS=` runs them in one process.
PYTEST_ARGS ?= -n 4 --dist loadfile
test: $(BIN)/.installed
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# Writes benchmarks/runs/ (ignored); to refresh the committed results: python -m benchmarks --out benchmarks/results
bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks

# The docs site (docs/, mkdocs.yml) into ./site; CI runs this too.
docs: $(BIN)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) site fibtrigger.db fibtrigger.db-* .pytest_cache .hypothesis
