# VANGUARD: the README's two commands are `make demo` and `make test`; both set up .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo ablations bench clean pretrain-backbone gpu-check

$(STAMP): requirements.txt setup.cfg
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check vanguard datamodules callbacks tests benchmarks research scripts

# The demo's starting backbone (models/synthcrime-tiny-qwen3vl, committed): a tiny Qwen3-VL pretrained to say what
# happens in a clip and to ground it, on SynthCrime videos of seed 1000 (the curriculum's are seed 0). Run once per
# recipe change (~1 h on 2 CPU cores); models/synthcrime-tiny-qwen3vl/pretrain.json records the run.
PRETRAINED := models/synthcrime-tiny-qwen3vl
pretrain-backbone: $(STAMP)
	$(BIN)/python -m vanguard backbone tiny outputs/pretrain/backbone_init --size demo --seed 0
	$(BIN)/python -m vanguard data synthcrime outputs/pretrain/data --seed 1000 --videos 600 --zero_shot 0 --difficulty clear
	$(BIN)/python -m vanguard backbone pretrain outputs/pretrain/backbone_init outputs/pretrain/data/synthcrime $(PRETRAINED) \
		--split train --heldout_split test --steps 1200 --batch_size 8 --lr 1e-3 --windows_per_video 2 \
		--event_windows_per_video 6 --grounding_windows_per_video 3 --eval_every 300 --eval_clips 240 \
		--save_dtype bfloat16 --seed 0

demo: $(STAMP)
	$(BIN)/python -m vanguard demo

ablations: $(STAMP)
	$(BIN)/python -m vanguard ablations --out outputs/ablations

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all --out outputs/bench

# on a CUDA machine: the demo world through stages 1-3 in bf16 and one real-width Qwen3-VL step (skips without CUDA)
gpu-check: $(STAMP)
	$(BIN)/python -m benchmarks.gpu_check --work outputs/gpu_check

clean:
	rm -rf outputs runs lightning_logs
