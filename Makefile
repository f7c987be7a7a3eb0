# The two commands of the README: `make run` and `make test`.
# Python 3.12 (selected by .python-version under pyenv), else the first python3 on PATH.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3 2>/dev/null || echo python)
# Poetry from PATH; when missing, installed into .tools/ (a venv of its own, so a system Python
# that refuses `pip install` (PEP 668) still works).
POETRY ?= $(shell command -v poetry 2>/dev/null || echo .tools/bin/poetry)

.PHONY: install run test lint bench

.tools/bin/poetry:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet poetry

install: $(if $(filter .tools/bin/poetry,$(POETRY)),.tools/bin/poetry)
	$(POETRY) install --no-interaction

run: install
	$(POETRY) run coachiq serve

test: install
	$(POETRY) run pytest

# The decode benchmark and the end-to-end pipeline at 1, 4 and 10 buses (issue 9); writes
# benchmarks/results/latest.json. Takes about two minutes; run it on a quiet machine.
bench: install
	$(POETRY) run python benchmarks/suite.py

lint: install
	$(POETRY) run ruff format --check .
	$(POETRY) run ruff check .
	$(POETRY) run pyright backend
