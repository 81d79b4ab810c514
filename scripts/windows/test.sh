#!/usr/bin/env bash
# `make test-windows`: the suite on Windows CPython 3.11 under Wine 10.
#   1. scripts/bootstrap.sh builds the wheel of this tree (dist/);
#   2. scripts/windows/setup.sh makes or reuses the environment in $PPE_WINDOWS_CACHE;
#   3. scripts/bundle.py --only portable writes dist/ppe-tech-VERSION-portable-win-amd64.zip from
#      that environment (tests/test_portable.py unzips and runs it);
#   4. the wheel is installed into the Windows Python with its own pip (Scripts\ppe-tech.exe);
#   5. pytest runs there, in the checkout, on tests/ (PYTEST_ARGS adds options, or names the tests to run).
# Tests that cannot run under Wine skip with a reason naming Wine (tests/conftest.py: WINE).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
bash scripts/bootstrap.sh
bash scripts/windows/setup.sh
.venv/bin/python scripts/bundle.py --only portable
ready=$(date +%s)
wheel=$(ls -t dist/ppe_tech-*.whl | head -1)
bash scripts/windows/wine.sh python -m pip install -q --disable-pip-version-check --no-deps --no-index \
    --force-reinstall "$(echo "$PWD/$wheel" | sed 's|^|Z:|; s|/|\\|g')" 2>&1 | grep -v -e "^WARNING: Location" -e "not on PATH" -e "Consider adding" >&2 || true
echo "test-windows: environment ready in $((ready - start)) s; running the suite under Wine" >&2
# the whole of tests/ unless PYTEST_ARGS names test files or folders (tests/test_x.py, tests/...::test_y)
paths=tests
case " ${PYTEST_ARGS:-} " in *" tests/"* | *" tests\\"*) paths= ;; esac
set +e
# PYTHONUTF8=1 for pytest only: it reads the children's output (UTF-8 when redirected, as the
# CLI guarantees) with text=True; subprocess_env() drops it, so every ppe-tech the tests start
# runs in the ANSI code page as on a real Windows.
PYTHONSAFEPATH=1 PYTHONUTF8=1 timeout "${PPE_WINDOWS_TIMEOUT:-2400}" \
    bash scripts/windows/wine.sh python -m pytest -p no:cacheprovider ${PYTEST_ARGS:--q -ra} $paths
code=$?
# Lines like "0x55fe…:1: Job processes=1" after pytest's summary are wineserver's dump of the
# objects left when it stops: a job object (ppe_tech/winjob.py) that still holds a process the
# tests killed. No process is left running then: the suite's summary names any it finds
# (tests/conftest.py, "processes the tests left running (Wine)").
set -e
echo "test-windows: setup $((ready - start)) s, suite $(( $(date +%s) - ready )) s, exit $code" >&2
exit $code
