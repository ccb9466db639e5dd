# fixgate: the two commands of the README.
#   make demo   set up (venv + install) and run the demo
#   make test   set up and run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test serve simulator bench lint chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "Installing fixgate; the first install compiles quickfix (about 6 minutes on one core)..."
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fixgate demo

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# The dashboard's browser test drives Debian's Chromium (never a browser download): installed here
# when it is missing and we are root with apt-get; otherwise that test skips and says why.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing chromium and chromium-driver for the dashboard's browser test (apt-get)..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "chromium could not be installed: the dashboard's browser test will skip"; \
	  else \
	    echo "no /usr/bin/chromium, and no apt-get as root to install it: the dashboard's browser test will skip"; \
	  fi; \
	fi

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
	$(BIN)/ruff check . && $(BIN)/mypy gateway domain oms risk book api simulator fixgate bus tca
