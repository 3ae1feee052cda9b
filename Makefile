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

SHELL := /bin/bash
.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The demo data root carries all three planted precursors (strength 1); strength 0 is the null.
$(DATA)/truth.json: | $(STAMP)
	$(PY) scripts/make_synthetic.py out=$(DATA) seed=0 precursor.catalog=1 precursor.spectrum=1 precursor.animal=1

demo: $(STAMP) $(DATA)/truth.json
	mkdir -p $(RUN)
	set -o pipefail; $(PY) train.py experiment=seisclip data.root=$(DATA) trainer=cpu logger=wandb | tee $(RUN)/train.log
	# The synthetic catalog spans six months: the "other period" sanity check moves the windows by 30 days, not a year.
	$(PY) probe.py ckpt=$$(sed -n 's/^checkpoint: //p' $(RUN)/train.log | tail -n 1) data.root=$(DATA) \
		out=$(RUN)/probe probe.other_period.shift_days=-30

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) scripts/bench_loader.py
	$(PY) scripts/bench_train.py
	$(PY) scripts/bench_probe.py

clean:
	rm -rf runs outputs multirun wandb
