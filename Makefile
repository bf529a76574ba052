# Two commands for a newcomer: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU-only machines get this torch (on this project's build machines it lies on local disk).
# Elsewhere add e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
RAW_ROOT ?=
MODEL_ID ?= builtin:tiny
OUT_DIR ?= demo_out
DEMO_ARGS ?=
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg
export HF_HUB_DISABLE_TELEMETRY := 1
# A loaded machine makes the package index slow: wait and retry instead of failing the set-up.
export PIP_DEFAULT_TIMEOUT := 120
export PIP_RETRIES := 5
# `step NAME, WHY`: say which step of `make test` runs, and on failure which one failed and what it checks.
step = echo "== make test: $(1)"
fail = { echo "FAIL: make test step '$(1)' failed: $(2)"; exit 1; }

.PHONY: demo test setup readme sync lint nbtest pytest browser-deps clean bench

setup: $(VENV)/.installed

$(VENV)/.installed: settings.ini setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel packaging
	@if $(BIN)/python -c "import torch" 2>/dev/null; then echo "torch already installed: $$($(BIN)/python -c 'import torch;print(torch.__version__)')"; \
	elif command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install -q torch; \
	else echo "no GPU: installing CPU torch ($(TORCH_SPEC))"; $(BIN)/pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS); fi
	$(BIN)/pip install -q -e ".[dev]" > $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; \
	  $(call fail,setup,pip could not install the project and its dev requirements; see $(VENV)/install.log); }
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

demo: setup
	$(BIN)/facesynth demo --out_dir $(OUT_DIR) --model_id $(MODEL_ID) $(if $(RAW_ROOT),--raw_root $(RAW_ROOT)) $(DEMO_ARGS)

# README.md is generated from nbs/index.ipynb (nbdev_readme needs Quarto, which is not installable here).
readme: setup
	@$(BIN)/jupyter nbconvert --to markdown nbs/index.ipynb --stdout 2>$(VENV)/readme.log > README.md.tmp \
	  && mv README.md.tmp README.md || { cat $(VENV)/readme.log; rm -f README.md.tmp; exit 1; }

# nbdev_clean, nbdev_export and the README must leave the tree as it is: notebooks clean, package in sync.
sync: setup
	@$(call step,sync (notebooks clean, package and README generated from them))
	@snap() { { find nbs facesynth_nb -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*'; echo README.md; } | LC_ALL=C sort | xargs sha1sum; }; \
	before=$$(snap); { $(BIN)/nbdev_clean && $(BIN)/nbdev_export && $(MAKE) -s readme; } \
	  || $(call fail,sync,nbdev_clean / nbdev_export / the README conversion raised an error (above)); \
	after=$$(snap); \
	if [ "$$before" != "$$after" ]; then echo "FAIL: nbdev_clean/nbdev_export changed these files; run them and commit:"; \
	  diff <(echo "$$before") <(echo "$$after") | grep '^[<>]' | awk '{print "   ", $$3}' | sort -u; exit 1; fi; \
	echo "sync: notebooks clean, package in sync"

# pyflakes-level lint of the package (ruff's F rules: unused imports and names, undefined names).
lint: setup
	@$(call step,lint (ruff F rules on facesynth_nb))
	@$(BIN)/ruff check --select F --output-format concise facesynth_nb --exclude facesynth_nb/_modidx.py \
	  || $(call fail,lint,ruff found unused or undefined names; fix them in the notebooks, then nbdev_export)

nbtest: setup
	@$(call step,nbtest (every notebook's inline tests; cells flagged slow or gpu are skipped))
	@$(BIN)/nbdev_test --n_workers 2 --timing \
	  || $(call fail,nbtest,a notebook's inline test failed: the notebook and cell are named above)

# Headless Chromium for the report's browser test; the test skips with a reason when this fails.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1) \
	    && echo "installed chromium" || echo "chromium not installed: the browser test will skip"; }

pytest: setup
	@$(call step,pytest (tests/: what crosses stages))
	@$(BIN)/pytest tests/ -q -p no:cacheprovider --durations=20 || $(call fail,pytest,see the failures listed above)

test: setup sync lint nbtest browser-deps pytest

bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(OUT_DIR) _docs _proc
