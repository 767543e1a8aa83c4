# fsqtok: `make repro` runs the whole pipeline, `make test` runs the tests.
# Both create .venv (if missing) and install the package first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5000

.PHONY: install repro repro-seed repro-long test ui bench lint docs

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,hf]'
	touch $(STAMP)

install: $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/fsqtok repro

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n auto
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

ui: $(STAMP)
	@echo "MLflow UI: http://127.0.0.1:$(PORT)/#/experiments?workflowType=machine_learning (training runs; parent rows compare whole pipelines)"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src pipeline tests

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/fsqtok bench

repro-seed: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/fsqtok exp --profile profiles/seed.yaml

repro-long: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/fsqtok exp --profile profiles/cpu-long.yaml
