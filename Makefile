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
	$(BIN)/ruff check vanguard datamodules callbacks tests benchmarks

demo: $(STAMP)
	$(BIN)/python -m vanguard demo

ablations: $(STAMP)
	$(BIN)/python -m vanguard ablations --out outputs/ablations

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --out outputs/bench

# on a CUDA machine: the demo world through stages 1-3 in bf16 and one real-width Qwen3-VL step (skips without CUDA)
gpu-check: $(STAMP)
	$(BIN)/python -m benchmarks.gpu_check --work outputs/gpu_check

clean:
	rm -rf outputs runs lightning_logs
