# fsqtok: `make repro` runs the whole pipeline, `make test` runs the tests.
# Both create .venv (if missing) and install the package first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5000

.PHONY: install repro repro-seed repro-long test ui ui-check bench bench-scale lint docs

$(STAMP): pyproject.toml setup.py src/fsqtok/tokenizers/_core.pyx
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
	@echo "MLflow UI, the runs table with the headline columns: $$($(BIN)/fsqtok ui-url --port $(PORT) 2>/dev/null || echo "http://127.0.0.1:$(PORT) (run make repro first)")"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port $(PORT)

ui-check: $(STAMP)  # by hand, after make repro: a real mlflow ui in Chromium (apt-get install chromium)
	$(BIN)/pip install --quiet -e '.[ui]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python tests/ui_check.py

lint: $(STAMP)
	$(BIN)/ruff check src pipeline tests

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/fsqtok bench

bench-scale: $(STAMP)  # time and peak memory of the corpus-side steps at 1x, 4x, 16x the corpus (~15 min)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/fsqtok bench-scale

repro-seed: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/fsqtok exp --profile profiles/seed.yaml

repro-long: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/fsqtok exp --profile profiles/cpu-long.yaml
