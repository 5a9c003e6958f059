"""`make serve` on a fresh clone installs the runtime dependencies only; `make test` (and
the other checks) add the dev tools. Read from what make would run (`make -n`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def planned(target: str, folder: Path) -> list[str]:
    """The commands `make target` would run in `folder` (a clone without .venv)."""
    result = subprocess.run(  # noqa: S603
        ["make", "-n", target, "PYTHON=python3"],  # noqa: S607
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "pip install" in line]


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_serve_installs_the_runtime_only(fresh_clone: Path) -> None:
    installs = planned("serve", fresh_clone)
    assert any(line.endswith("install --quiet -e .") for line in installs), installs
    assert not any("[dev]" in line for line in installs), installs


@pytest.mark.parametrize("target", ["test", "lint", "pytest", "bench"])
def test_checks_install_the_dev_tools(target: str, fresh_clone: Path) -> None:
    installs = planned(target, fresh_clone)
    assert any("-e '.[dev]'" in line for line in installs), installs


def test_serve_after_test_installs_nothing_more(fresh_clone: Path) -> None:
    venv = fresh_clone / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    # What `make test` leaves: both stamps, newer than pyproject.toml.
    (venv / ".installed").touch()
    (venv / ".installed-runtime").touch()
    assert planned("serve", fresh_clone) == []
    assert planned("test", fresh_clone) == []


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
