"""The layers hold: domain code does not depend on the web layer.

Web layer: `app.py`, `deps.py`, `cli.py` (it builds the app), `web/`, `kit/schemas.py` (what
routes say in OpenAPI) and each domain's `endpoints.py` (and the feed's `fastpath.py`).
Everything else (a domain's operations, SQL, jobs, the kernel) may be used without FastAPI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import momento

ROOT = Path(momento.__file__).parent
WEB_MODULES = {"app.py", "deps.py", "cli.py", "kit/schemas.py", "photos/fastpath.py"}
WEB_IMPORTS = ("fastapi", "momento.deps", "momento.app", "momento.web")


def _web(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return rel in WEB_MODULES or rel.startswith("web/") or path.name == "endpoints.py"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_domain_modules_do_not_import_the_web_layer() -> None:
    offenders = {
        path.relative_to(ROOT).as_posix(): sorted(
            name
            for name in _imports(path)
            if any(name == w or name.startswith(w + ".") for w in WEB_IMPORTS)
        )
        for path in ROOT.rglob("*.py")
        if not _web(path)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_web_imports() -> None:
    # The check above would pass vacuously if it read no imports: the web layer has them.
    assert "momento.deps" in _imports(ROOT / "events" / "endpoints.py")
    assert "fastapi" in _imports(ROOT / "deps.py")
