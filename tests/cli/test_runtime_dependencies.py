"""The server runs on `pip install -e .` alone (`make serve`): every package its code imports
at run time comes with the runtime dependencies, not only with the dev extra."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

SRC = Path(__file__).resolve().parents[2] / "src" / "momento"


def runtime_closure() -> set[str]:
    """Distributions `pip install momento-server` installs (no extras), normalised names."""
    environment = {str(k): str(v) for k, v in default_environment().items()}

    def name(dist: str) -> str:
        return re.sub(r"[-_.]+", "-", dist).lower()

    seen: set[str] = set()
    todo: list[tuple[str, set[str]]] = [("momento-server", set())]
    while todo:
        dist, extras = todo.pop()
        key = name(dist)
        if key in seen and not extras:
            continue
        seen.add(key)
        for line in metadata.requires(dist) or []:
            req = Requirement(line)
            if req.marker is not None and not any(
                req.marker.evaluate({**environment, "extra": extra}) for extra in extras or {""}
            ):
                continue
            todo.append((req.name, set(req.extras)))
    return seen


def runtime_imports(path: Path) -> set[str]:
    """Top-level packages a module imports, leaving out `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_every_imported_package_is_a_runtime_dependency() -> None:
    closure = runtime_closure()
    providers = metadata.packages_distributions()
    missing = {}
    for path in SRC.rglob("*.py"):
        for module in runtime_imports(path):
            if module in sys.stdlib_module_names or module in ("momento", "__future__"):
                continue
            dists = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(module, [])}
            if not dists & closure:
                missing[module] = str(path.relative_to(SRC.parent))
    assert missing == {}, f"imported but only installed by the dev extra (or not at all): {missing}"


def test_the_closure_leaves_out_the_dev_tools() -> None:
    closure = runtime_closure()
    assert "fastapi" in closure
    assert "psycopg" in closure
    assert "pytest" not in closure
    assert "mypy" not in closure
