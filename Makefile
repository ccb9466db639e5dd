# fixgate: the two commands of the README.
#   make demo   set up (venv + install) and run the demo
#   make test   set up and run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test serve simulator bench lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "Installing fixgate; the first install compiles quickfix (about 6 minutes on one core)..."
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fixgate demo

test: $(STAMP)
	$(BIN)/python -m pytest

serve: $(STAMP)
	$(BIN)/fixgate serve

simulator: $(STAMP)
	$(BIN)/fixgate simulator

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.risk_check
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/pip install --quiet -e '.[lint]'
	$(BIN)/ruff check . && $(BIN)/mypy gateway domain oms risk book api simulator fixgate bus
