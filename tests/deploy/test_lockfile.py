"""uv.lock is what Railpack installs in production (`uv sync --locked --no-dev`): it must match
pyproject.toml, or the build fails (docs/deploy.md). `make` re-locks when pyproject.toml
changes; this catches a pyproject.toml edited and committed without its lock."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UV = [sys.executable, "-m", "uv"]


def _check(project: Path) -> subprocess.CompletedProcess:
    # --offline: a lock that satisfies pyproject.toml is validated from the lock alone.
    return subprocess.run(
        [*UV, "lock", "--check", "--offline", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_uv_lock_matches_pyproject():
    result = _check(ROOT)
    assert result.returncode == 0, (
        "uv.lock is out of date with pyproject.toml: run `make` (or `uv lock`) and commit "
        f"uv.lock\n{result.stderr}"
    )


def test_a_dependency_added_without_relocking_is_caught(tmp_path):
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace("dependencies = [\n", 'dependencies = [\n    "six",\n', 1))
    assert _check(tmp_path).returncode != 0


def test_the_lock_pins_production_from_pypi():
    lock = (ROOT / "uv.lock").read_text()
    assert 'name = "gunicorn"' in lock
    assert 'name = "celery"' in lock
    # Railpack's builder reaches the public index only: no local paths or private mirrors.
    assert "file://" not in lock
    assert 'source = { registry = "https://pypi.org/simple" }' in lock
