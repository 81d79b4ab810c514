# The two commands of the quick start, and the benchmarks.
#   make demo   installs what is missing, then runs the exam day in ./ppe-tech-demo
#   make test   installs what is missing, then runs every test
#   make bench  installs what is missing, then runs the benchmarks in bench/
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test bench deps clean

deps:
	@bash scripts/bootstrap.sh

demo: deps
	$(PY) -m ppe_tech demo --dir ppe-tech-demo

test: deps
	$(PY) -m pytest $(PYTEST_ARGS)

bench: deps
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) ppe-tech-demo .pytest_cache build *.egg-info
