"""The floor plan: every project module imports only from its own floor or below.

Floors of the core, bottom first: data < spaces < benchmarks < proxies < runs <
studies < the package's edge (`cli`, `__main__`, `ssnr_core/__init__`). The app
(`app.py`, `app_pages/`, `ssnr_app/`) sits above the core and never imports the
process pool or Ray. The walk reads the source with `ast` (nothing is imported), so a
reintroduced circle or upward import fails here, whatever the import's depth.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ("data", "spaces", "benchmarks", "proxies", "runs", "studies")
EDGE = len(FLOORS)  # cli, __main__, the package's __init__
APP = EDGE + 1
# Imports inside functions are allowed only where they are on purpose: the CLI loads a
# subcommand's module only when that subcommand runs.
LAZY_OK = {"ssnr_core.cli", "ssnr_core.__main__"}
NOT_IN_CORE = ("streamlit", "plotly", "ssnr_app")
NOT_IN_APP = ("ssnr_core.runs.pool", "ssnr_core.runs.ray_backend", "ray")
MAX_PARAMS = 8


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files() -> dict[str, Path]:
    files = [*ROOT.glob("ssnr_core/**/*.py"), *ROOT.glob("ssnr_app/**/*.py")]
    files += [*ROOT.glob("app_pages/*.py"), ROOT / "app.py"]
    return {module_name(f): f for f in files}


MODULES = project_files()


def floor(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "ssnr_core":
        return APP
    if len(parts) > 1 and parts[1] in FLOORS:
        return FLOORS.index(parts[1])
    return EDGE


def resolve(base: str, name: str | None) -> str:
    """The project module an import names: `from a.b import c` is a.b.c when c is a
    module, else a.b."""
    if name and f"{base}.{name}" in MODULES:
        return f"{base}.{name}"
    return base


def imports(module: str) -> Iterator[tuple[str, str | None, int, bool]]:
    """(imported module, imported name, line, inside a function) for every import."""
    tree = ast.parse(MODULES[module].read_text())
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def in_function(node: ast.AST) -> bool:
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return True
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno, in_function(node)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                yield node.module, alias.name, node.lineno, in_function(node)


def project_edges(module: str) -> Iterator[tuple[str, int, bool]]:
    for base, name, line, lazy in imports(module):
        target = resolve(base, name)
        if target in MODULES:
            yield target, line, lazy


def graph() -> dict[str, set[str]]:
    return {m: {t for t, _, _ in project_edges(m)} for m in MODULES}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges[v]:
                found.append(sorted(group))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_every_floor_and_the_app():
    assert {floor(m) for m in MODULES} == set(range(APP + 1))
    assert len(MODULES) > 40


def test_no_module_imports_from_a_floor_above_it():
    upward = [
        f"{m}:{line} imports {t} (floor {FLOORS[floor(t)] if floor(t) < EDGE else 'edge'})"
        for m in MODULES
        for t, line, _ in project_edges(m)
        if floor(t) > floor(m) and floor(m) != APP
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    assert not circles(graph())


def test_imports_inside_functions_only_where_meant():
    lazy = [
        f"{m}:{line} imports {t} inside a function"
        for m in MODULES
        if m not in LAZY_OK
        for t, line, inside in project_edges(m)
        if inside
    ]
    assert not lazy, "\n".join(lazy)


def test_the_core_knows_nothing_of_the_app():
    found = [
        f"{m}:{line} imports {base}"
        for m in MODULES
        if floor(m) < APP
        for base, _, line, _ in imports(m)
        if base.split(".")[0] in NOT_IN_CORE
    ]
    assert not found, "\n".join(found)


def test_the_app_never_imports_the_pool_or_ray():
    found = [
        f"{m}:{line} imports {resolve(base, name)}"
        for m in MODULES
        if floor(m) == APP
        for base, name, line, _ in imports(m)
        if any(resolve(base, name) == x or base.startswith(x + ".") for x in NOT_IN_APP)
    ]
    assert not found, "\n".join(found)


def test_no_underscore_name_is_used_outside_its_module():
    found = []
    for m in MODULES:
        tree = ast.parse(MODULES[m].read_text())
        modules = {}  # local alias -> project module it names
        for base, name, line, _ in imports(m):
            private = bool(name) and name.startswith("_") and not name.startswith("__")
            if base.startswith(("ssnr_core", "ssnr_app")) and private:
                found.append(f"{m}:{line} imports {base}.{name}")
            target = resolve(base, name)
            if target in MODULES:
                modules[(name or base).split(".")[-1]] = target
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{m}:{node.lineno} uses {modules[node.value.id]}.{node.attr}")
    assert not found, "\n".join(found)


def test_no_public_core_function_takes_more_than_eight_parameters():
    wide = []
    for m, path in MODULES.items():
        if floor(m) >= APP:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not (
                node.name.startswith("_")
            ):
                a = node.args
                names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
                names = [n for n in names if n not in ("self", "cls")]
                if len(names) > MAX_PARAMS:
                    wide.append(f"{m}.{node.name}: {len(names)} parameters")
    assert not wide, "\n".join(wide)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("ssnr_core.data.pinned", "from ssnr_core.runs import cache\n"),
        ("ssnr_core.spaces.nb201", "from ssnr_core import benchmarks\n"),
    ],
)
def test_an_upward_import_would_fail(monkeypatch, tmp_path, module, source):
    """The checks above are not vacuous: a reintroduced upward import is caught, and
    NB201's index table read through `benchmarks` (the old circle) is a circle again."""
    scratch = tmp_path / "scratch.py"
    scratch.write_text(source + MODULES[module].read_text())
    monkeypatch.setitem(MODULES, module, scratch)
    with pytest.raises(AssertionError):
        test_no_module_imports_from_a_floor_above_it()
    if module == "ssnr_core.spaces.nb201":
        assert circles(graph())
