"""The lock agrees with pyproject.toml and pins every file by hash (checked offline)."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement
import pytest

from conftest import UNDER_WINE, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import bundle  # noqa: E402
import lock  # noqa: E402


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pinned(path) -> dict[str, list[tuple[Requirement, list[str]]]]:
    found: dict[str, list] = {}
    for req, hashes in bundle.locked(path):
        found.setdefault(req.name.lower().replace("_", "-"), []).append((req, hashes))
    return found


def test_every_declared_dependency_is_pinned_within_its_range_with_hashes():
    runtime, test = pinned(lock.REQ / "runtime.txt"), pinned(lock.REQ / "test.txt")
    declared = [Requirement(r) for r in project()["dependencies"]]
    declared_test = [Requirement(r) for r in project()["optional-dependencies"]["test"]]
    for lockfile, wanted in ((runtime, declared), (test, declared + declared_test)):
        for req in wanted:
            name = req.name.lower()
            assert name in lockfile, f"{name} is declared in pyproject.toml but not locked: run `make lock`"
            for pin, hashes in lockfile[name]:
                version = next(iter(pin.specifier)).version
                assert req.specifier.contains(version, prereleases=True), f"{name}=={version} is outside {req}"
                assert hashes and all(h.startswith("sha256:") for h in hashes), f"{name} has no hashes"
    for name, entries in test.items():  # the test lock pins the runtime packages at the same versions
        if name in runtime:
            assert [str(r.specifier) for r, _ in entries] == [str(r.specifier) for r, _ in runtime[name]], name


@pytest.mark.skipif(UNDER_WINE, reason="under Wine numpy and OpenCV are requirements/windows-wine.txt's, not "
                    "the lock's: numpy 2 aborts under Wine (ucrtbase's complex functions are stubs)")
def test_this_environment_holds_exactly_the_lock():
    """What bootstrap installed is what the lock says, version for version."""
    env = default_environment()
    expected = {}
    for name, entries in pinned(lock.REQ / "test.txt").items():
        for req, _ in entries:
            if req.marker is None or req.marker.evaluate(env):
                expected[name] = next(iter(req.specifier)).version
    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in metadata.distributions()}
    installed.pop("ppe-tech", None)
    assert installed == expected


def test_make_lock_reports_changes_package_by_package():
    old = {"numpy": "2.3.0", "click": "8.1.0", "gone": "1.0"}
    new = {"numpy": "2.4.6", "click": "8.1.0", "fresh": "0.1"}
    assert lock.changes(old, new) == ["  + fresh 0.1", "  - gone 1.0", "  ~ numpy 2.3.0 -> 2.4.6"]
    assert lock.changes(new, new) == []


def test_the_bundle_takes_the_pins_that_apply_to_each_python():
    lines311 = " ".join(bundle.pins_for("3.11"))
    assert "tzdata" not in lines311  # a Windows-only pin is not for Linux
    numpy = {python: [line.split()[0] for line in bundle.pins_for(python) if line.startswith("numpy")]
             for python in bundle.PYTHONS}
    assert all(len(pins) == 1 for pins in numpy.values()), numpy
