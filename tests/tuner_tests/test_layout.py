"""The layout rules of docs/design.md section 2, checked on the source: they hold because this test fails
when they break (import circles, workers importing tuner, Ray outside workers, the CLI's internals used
elsewhere, optional heavy libraries imported by the core)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ("tensorflow", "keras", "optuna", "mlflow", "tensorboard")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Absolute names of the modules `path` imports (`from a.b import c` counts a.b and a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _sources(top: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / top).rglob("*.py"))}


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    modules = _sources("tuner")
    return {name: {m for m in _imports(path, top_level_only) if m in modules and m != name}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            # importing a submodule imports its package first: a package importing its own children is no circle
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module level", "including lazy imports"])
def test_no_import_circles_inside_tuner(top_level_only: bool) -> None:
    assert _cycles(_graph(top_level_only)) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"a.b"}, "a.b": {"a"}}) == []  # a package and its child


def test_workers_never_import_tuner() -> None:
    offenders = {name: sorted(m for m in _imports(path, False) if m == "tuner" or m.startswith("tuner."))
                 for name, path in _sources("workers").items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def _is_ray(module: str) -> bool:
    return module == "ray" or module.startswith("ray.")


#: the workers modules that drive Ray, and import it at their top: connecting (cluster) and running tasks (pool)
RAY_AT_TOP = {"workers.cluster", "workers.pool"}
#: those that reach into Ray only inside a function, where they must: the patched start (embedded), the job API
#: (jobs), the relay actor's type (shipping)
RAY_INSIDE = {"workers.embedded", "workers.jobs", "workers.shipping"}


def test_ray_is_imported_only_in_workers() -> None:
    offenders = [name for name, path in _sources("tuner").items() if any(map(_is_ray, _imports(path, False)))]
    assert offenders == []


def test_ray_is_imported_in_few_workers_modules() -> None:
    workers = _sources("workers")
    at_top = {name for name, path in workers.items() if any(map(_is_ray, _imports(path, True)))}
    anywhere = {name for name, path in workers.items() if any(map(_is_ray, _imports(path, False)))}
    assert at_top <= RAY_AT_TOP
    assert anywhere <= RAY_AT_TOP | RAY_INSIDE


def test_tuner_imports_the_ray_side_of_workers_only_where_a_sweep_runs() -> None:
    """`tune ls`, reports and most of the API never load Ray: workers.cluster and workers.pool are imported inside
    functions (or for their types alone), never at a tuner module's top."""
    offenders = {name: sorted(m for m in _imports(path, True) if m in RAY_AT_TOP or m.rpartition(".")[0] in RAY_AT_TOP)
                 for name, path in _sources("tuner").items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def _module_state(path: Path) -> list[str]:
    """Names a module binds at its top to an empty list, dict or set: a container that is there to be filled, that
    is state held by the module."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        empty = (isinstance(value, (ast.List, ast.Set)) and not value.elts) or (
            isinstance(value, ast.Dict) and not value.keys) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("list", "dict", "set")
            and not value.args and not value.keywords)
        if empty:
            found += [t.id for t in targets if isinstance(t, ast.Name)]
    return found


def test_workers_keep_no_state_in_module_globals() -> None:
    """What a driver holds between calls (the reaper's token, a standby's join) is held by an object
    (workers.cluster.Cluster), not by a module that tests and callers would have to reset by hand."""
    state = {name: _module_state(path) for name, path in _sources("workers").items()}
    assert {k: v for k, v in state.items() if v} == {}


def test_the_state_finder_finds_module_state(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("A: list[str] = []\nB = set()\nC = {}\nD = {'x': 1}\nE = (1,)\n")
    assert _module_state(source) == ["A", "B", "C"]


def test_nothing_outside_the_cli_imports_its_modules() -> None:
    allowed = {"tuner.__main__"}  # `python -m tuner` is the command
    offenders = {name: sorted(m for m in _imports(path, False) if m.startswith("tuner.cli"))
                 for name, path in _sources("tuner").items() if not name.startswith("tuner.cli") and name not in allowed}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_core_imports_optional_libraries_only_lazily() -> None:
    """TensorFlow, Optuna, MLflow and TensorBoard are extras: no module imports them at its top, except the
    integrations that exist for them (imported only when a user asks for one)."""
    optional_homes = ("tuner.integrations", "tuner.keras")
    offenders = {name: sorted(m for m in _imports(path, True) if m.split(".")[0] in OPTIONAL)
                 for name, path in _sources("tuner").items() if not name.startswith(optional_homes)}
    assert {k: v for k, v in offenders.items() if v} == {}
