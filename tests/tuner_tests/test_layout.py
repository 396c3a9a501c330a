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


def test_ray_is_imported_only_in_workers() -> None:
    offenders = [name for name, path in _sources("tuner").items()
                 if any(m == "ray" or m.startswith("ray.") for m in _imports(path, False))]
    assert offenders == []


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


def _private_imports(path: Path, own: str) -> set[str]:
    """`module.name` for each `from module import _name` of tuner or workers in `path` (module `own`), from another
    module (dunder names such as __version__ are public; a private module, `_version`, `_bootstrap`, is its
    package's own business; Ray's privates are workers' to reach for)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level and node.module != own \
                and node.module.split(".")[0] in ("tuner", "workers"):
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if alias.name.startswith("_") and not alias.name.startswith("__"))
    return found


def test_no_module_imports_another_s_private_names() -> None:
    """A name with a leading underscore is its module's own: another module that needs it gets a public name, or
    the code moves to the name's owner (issue 31 found seven)."""
    found = {(name, imported) for top in ("tuner", "workers") for name, path in _sources(top).items()
             for imported in _private_imports(path, name)}
    assert found == set()


def test_the_private_import_finder_finds_one(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("from tuner.report.data import _clean, json_safe\nfrom tuner._version import __version__\n"
                      "from tuner.m import _own\nfrom ray._private import _x\n")
    assert _private_imports(source, "tuner.m") == {"tuner.report.data._clean"}
