"""Build hooks: the wheel and the sdist carry the commit they were built from.

Everything else about the package is in pyproject.toml. `ppe_tech/_build.json` is
written into the build (never into the source tree) from `git describe`; an sdist
keeps it, so a wheel built from the sdist names the same commit.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
BUILD_INFO = Path("ppe_tech") / "_build.json"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(HERE), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def build_info() -> dict:
    """The commit of this tree, and whether tracked files differ from it."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:  # not a checkout: an unpacked sdist keeps what its build wrote
        kept = HERE / BUILD_INFO
        return json.loads(kept.read_text(encoding="utf-8")) if kept.exists() else {"commit": None, "dirty": None}
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit, "dirty": dirty}


def _write(root: str) -> None:
    target = Path(root) / BUILD_INFO
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(build_info()) + "\n", encoding="utf-8")


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        _write(self.build_lib)


class Sdist(sdist):
    def make_release_tree(self, base_dir, files) -> None:
        super().make_release_tree(base_dir, files)
        _write(base_dir)


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
