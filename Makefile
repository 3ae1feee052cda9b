# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA := data/synthetic
RUN := runs/demo
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true
export HYDRA_FULL_ERROR ?= 1

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

$(DATA)/truth.json: | $(STAMP)
	$(PY) scripts/make_synthetic.py out=$(DATA) seed=0

demo: $(STAMP) $(DATA)/truth.json
	$(PY) train.py experiment=seisclip data.root=$(DATA) trainer=cpu logger=wandb 2>&1 | tee $(RUN).train.log
	$(PY) probe.py ckpt=$$(tail -n 1 $(RUN).train.log | sed -n 's/^checkpoint: //p') data.root=$(DATA) out=$(RUN)/probe

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) scripts/bench_loader.py
	$(PY) scripts/bench_train.py
	$(PY) scripts/bench_probe.py

clean:
	rm -rf runs outputs multirun wandb
