# The two commands of the README: `make run` and `make test`.
PYTHON ?= python
POETRY ?= poetry

.PHONY: install run test lint bench

install:
	@command -v $(POETRY) >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet poetry
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
