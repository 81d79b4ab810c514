# The two commands of the quick start, and the rest of the project's work.
#   make demo   installs what is missing, then runs the exam day in ./ppe-tech-demo
#   make test   installs what is missing, then runs every test (against the installed wheel)
#   make bench  installs what is missing, then runs the benchmarks in bench/
#   make dist   the wheel and the offline bundle in dist/ (and the portable Windows zip once
#               make test-windows has set up build/windows; without it the zip is skipped)
#   make test-windows  the suite on Windows CPython under Wine (scripts/windows/; root, ~3 GB in build/windows)
#   make lock   refreshes the lock (requirements/*.txt) and says what changed
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
ARGS ?=

.PHONY: demo test test-windows bench deps dist lock clean

deps:
	@bash scripts/bootstrap.sh

demo: deps
	$(VENV)/bin/ppe-tech demo --dir ppe-tech-demo

# The offline bundle is built before the tests: tests/test_install.py installs it with no network.
# pytest runs as its console script from the installed environment, so the checkout is not on
# sys.path and every import is of the installed package.
test: deps dist
	PYTHONSAFEPATH=1 $(VENV)/bin/pytest $(PYTEST_ARGS)

test-windows:
	bash scripts/windows/test.sh

bench: deps
	PYTHONSAFEPATH=1 $(PY) bench/run.py $(ARGS)

dist: deps
	@$(PY) scripts/bundle.py

lock: deps
	$(PY) scripts/lock.py $(ARGS)

clean:
	@if grep -q ' $(CURDIR)/build/windows/chroot/' /proc/mounts 2>/dev/null; then \
	    echo "clean: scripts/windows/wine.sh is running or left mounts under build/windows/chroot; not removing" >&2; exit 1; fi
	rm -rf $(VENV) ppe-tech-demo .pytest_cache build dist *.egg-info
