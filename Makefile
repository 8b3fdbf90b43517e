# VANGUARD: the README's two commands are `make demo` and `make test`; both set up .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo ablations bench clean

$(STAMP): requirements.txt setup.cfg
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check vanguard datamodules callbacks tests benchmarks research

demo: $(STAMP)
	$(BIN)/python -m vanguard demo

ablations: $(STAMP)
	$(BIN)/python -m vanguard ablations --out outputs/ablations

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all --out outputs/bench

clean:
	rm -rf outputs runs lightning_logs
