"""The package's layout: its modules import one another without a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import kedro_mlflow_dryrun

PACKAGE = Path(kedro_mlflow_dryrun.__file__).parent


def _module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of the package ``path`` imports, lazily or for type checking alike."""
    found: set[str] = set()
    for statement in ast.walk(ast.parse(path.read_text())):
        if isinstance(statement, ast.Import):
            found.update(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            found.add(statement.module)
            found.update(f"{statement.module}.{alias.name}" for alias in statement.names)
    return {name for name in found if name in modules}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the modules along it, if there is any."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            if circle := visit(imported, [*path, module]):
                return circle
        done.add(module)
        return None

    return next((c for module in sorted(graph) if (c := visit(module, []))), None)


def test_no_module_of_the_package_imports_one_that_imports_it_back():
    modules = _module_names()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}

    assert _circle(graph) is None
