# Everything a fresh machine needs: `make test` and `make demo` create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= runs/demo

.PHONY: test demo install clean bench-eval

$(BIN)/posekit: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(BIN)/posekit

install: $(BIN)/posekit

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/python -m posekit.demo --out $(DEMO_DIR)

bench-eval: install
	$(BIN)/python benchmarks/bench_eval.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info
