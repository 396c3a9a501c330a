"""The layout rules of docs/design.md section 2, checked on the source: they hold because this test fails
when they break (import circles, workers importing tuner, Ray outside workers, the CLI's internals used
elsewhere, optional heavy libraries imported by the core; and, from issue 31, module-level state that is not a
declared cache, another module's private names, file and environment names spelled outside tuner/store/layout.py,
printing outside the presentation layers)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

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


def _empty_containers(path: Path) -> list[str]:
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
    state = {name: _empty_containers(path) for name, path in _sources("workers").items()}
    assert {k: v for k, v in state.items() if v} == {}


def test_the_container_finder_finds_empty_containers(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("A: list[str] = []\nB = set()\nC = {}\nD = {'x': 1}\nE = (1,)\n")
    assert _empty_containers(source) == ["A", "B", "C"]


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


# ---------------------------------------------------------------------------------------------------------------
# Issue 31's rules. Each detector reads one module's syntax tree and returns what breaks its rule; the tests run
# it over the code (it must find nothing beyond the declared exceptions) and over a planted violation (it must
# find it), so a rule that cannot fail fails.

def _parsed(top: str) -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in _sources(top).items()}


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants of a module and its classes and functions (prose, not code)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


# -- no module-level mutable state outside declared caches ---------------------------------------------------------

MUTATORS = frozenset({"append", "extend", "insert", "pop", "popitem", "remove", "clear", "update", "setdefault",
                      "add", "discard", "appendleft", "popleft", "extendleft", "rotate", "sort", "reverse"})

#: module-level names that functions change, each with why it is one: a cache (a value computed once, safe to
#: drop) or state that is the process's by nature
DECLARED_STATE = {
    ("tuner.runs.index", "_memo"): "cache: the parsed index per runs directory, valid while its file is unchanged",
    ("tuner.search.importance", "_ERFC"): "cache: a numpy ufunc of math.erfc, made on first use",
    ("tuner.tracking", "_step_counters"): "the script's process: the next step of each run it logs to",
    ("tuner.tracking", "_warned_inactive"): "the script's process: 'no active run' is said once per process",
    ("tuner.integrations.keras", "_fit_calls"): "the script's process: each fit()'s rank per checkpoint folder, by "
                                                "which a rerun of the script finds that fit()'s backup",
    ("tuner.integrations.keras", "_patched"): "the process: autolog patches Keras' Model methods once per process",
    ("tuner.integrations.keras", "_patched_options"): "the process: the options of that one patch",
    ("tuner.integrations.keras", "_state"): "a thread-local: inside fit(), evaluate() is fit's validation",
}


def _module_state(tree: ast.Module) -> set[str]:
    """Module-level names some function rebinds (`global`) or changes in place (an item or attribute set or
    deleted, a mutating method called), unless the function has a local or parameter of that name."""
    top: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        top.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))

    def base(expr: ast.expr) -> str | None:
        while isinstance(expr, (ast.Subscript, ast.Attribute)):
            expr = expr.value
        return expr.id if isinstance(expr, ast.Name) else None

    found: set[str] = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        declared = {n for node in ast.walk(fn) if isinstance(node, ast.Global) for n in node.names}
        found |= declared
        args = fn.args
        local = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a}
        local |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - declared
        changed: list[ast.expr] = []
        for node in ast.walk(fn):
            if isinstance(node, (ast.Assign, ast.Delete)):
                changed += [t for t in node.targets if isinstance(t, (ast.Subscript, ast.Attribute))]
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(node.target, (ast.Subscript,
                                                                                               ast.Attribute)):
                changed.append(node.target)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
                changed.append(node.func.value)
        found |= {name for name in map(base, changed) if name in top and name not in local}
    return found


def _all_module_state() -> set[tuple[str, str]]:
    return {(module, name) for top in ("tuner", "workers") for module, tree in _parsed(top).items()
            for name in _module_state(tree)}


def test_no_module_level_state_but_the_declared() -> None:
    assert _all_module_state() - set(DECLARED_STATE) == set()


def test_the_state_finder_finds_planted_state() -> None:
    planted = ast.parse("CACHE = {}\nCOUNT = 0\nKEPT = []\n"
                        "def f():\n    CACHE['x'] = 1\n"
                        "def g():\n    global COUNT\n    COUNT += 1\n"
                        "def h(KEPT):\n    KEPT.append(1)\n"  # a parameter of that name: not the module's
                        "class A:\n    def m(self):\n        KEPT.append(2)\n")
    assert _module_state(planted) == {"CACHE", "COUNT", "KEPT"}
    assert _module_state(ast.parse("TABLE = {'a': 1}\ndef f():\n    return TABLE['a']\n")) == set()


# -- no private names imported from another module ---------------------------------------------------------------

def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(module: str, tree: ast.Module, modules: set[str], is_package: bool = False) -> set[str]:
    """Another module's private names (`_x`) this module imports (`from m import _x`) or reaches into (`m._x`,
    `m` an imported module of ours)."""
    package = module if is_package else module.rpartition(".")[0]
    aliases: dict[str, str] = {}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in modules:
                    aliases[alias.asname or alias.name] = full
                elif base in modules and base != module and _is_private(alias.name):
                    found.add(full)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and _is_private(node.attr) and aliases[node.value.id] != module:
            found.add(f"{aliases[node.value.id]}.{node.attr}")
    return found


def _all_private_uses() -> set[tuple[str, str]]:
    modules = set(_sources("tuner")) | set(_sources("workers"))
    return {(module, used) for top in ("tuner", "workers") for module, path in _sources(top).items()
            for used in _private_uses(module, ast.parse(path.read_text(encoding="utf-8")), modules,
                                      path.name == "__init__.py")}


def test_no_private_names_of_other_modules_are_used() -> None:
    assert _all_private_uses() == set()


def test_the_private_use_finder_finds_planted_uses() -> None:
    modules = {"tuner.plan", "tuner.foo"}
    planted = ast.parse("from tuner.plan import _commands, Plan\nfrom tuner import plan\nplan._last_read\n"
                        "from tuner.foo import _mine\n")  # its own: fine
    assert _private_uses("tuner.foo", planted, modules) == {"tuner.plan._commands", "tuner.plan._last_read"}


# -- file and environment names only in tuner/store/layout.py ------------------------------------------------------

LAYOUT = "tuner.store.layout"
#: copies of layout names where tuner cannot be imported, as module constants: module -> {its name: layout's}
COPIES = {"workers.view": {"META_DIR": "META_DIR"},
          "tuner.interface._bootstrap": {"ENV_DISCOVER_FLAGS": "ENV_DISCOVER_FLAGS"}}


def _layout_names() -> set[str]:
    """Every name the layout owns: the values of its module constants (those in tuples and sets too) and the
    files of RunPaths (`self._m("flags.json")`)."""
    tree = ast.parse(_sources("tuner")[LAYOUT].read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and any(
                isinstance(t, ast.Name) and t.id.isupper() for t in (node.targets if isinstance(node, ast.Assign)
                                                                      else [node.target])):
            names |= {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_m":
            names |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return names


def _distinctive(name: str) -> bool:
    """A name nothing but a file or variable is called (`mlflow.json`, `TUNER_RUN_DIR`), unlike `sweeps`."""
    return "." in name or name.startswith("TUNER_")


def _spelled_names(module: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Layout names this module spells: a distinctive one (or any `TUNER_*` name) anywhere in code, any of them
    as a path part (os.path.join, Path(), `/`); docstrings and the declared copies aside."""
    skip = _docstrings(tree)
    for node in tree.body:  # the declared copies: `NAME = "value"` at module level
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and any(
                isinstance(t, ast.Name) and t.id in COPIES.get(module, {}) for t in node.targets):
            skip.add(id(node.value))
    path_parts: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.path.join", "Path", "pathlib.Path",
                                                                    "PurePath", "os.path.exists", "os.path.isdir"):
            path_parts |= {id(a) for a in node.args}
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            path_parts |= {id(node.left), id(node.right)}
    # workers/ names its own environment variables (the driver's token, the warm cluster's mark), each once, as a
    # module constant; tuner imports them from there
    own_env = {id(node.value) for node in tree.body if module.startswith("workers.") and isinstance(node, ast.Assign)
               and isinstance(node.value, ast.Constant)}
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in skip:
            continue
        value = node.value
        if (value in known and (_distinctive(value) or id(node) in path_parts)) \
                or (re.fullmatch(r"TUNER_[A-Z0-9_]*", value) and id(node) not in own_env):
            found.add(value)
    return found


def test_file_and_environment_names_are_spelled_only_in_the_layout() -> None:
    known = _layout_names()
    assert {"tuner.d", "mlflow.json", ".driver.lock", "sweeps", "TUNER_RUN_DIR"} <= known
    offenders = {module: sorted(_spelled_names(module, tree, known))
                 for top in ("tuner", "workers") for module, tree in _parsed(top).items() if module != LAYOUT}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_copies_where_tuner_cannot_be_imported_agree_with_the_layout() -> None:
    import importlib

    layout = importlib.import_module(LAYOUT)
    for module, names in COPIES.items():
        tree = ast.parse(_sources(module.split(".")[0])[module].read_text(encoding="utf-8"))
        values = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                  and isinstance(node.value, ast.Constant) for t in node.targets if isinstance(t, ast.Name)}
        for own, theirs in names.items():
            assert values.get(own) == getattr(layout, theirs), (module, own)


def test_the_name_finder_finds_planted_names() -> None:
    known = {"mlflow.json", "sweeps", "tuner.d", "TUNER_RUN_DIR"}
    planted = ast.parse('"""Writes tuner.d/mlflow.json."""\nimport os\n'
                        'a = os.path.join(run, "mlflow.json")\nb = os.path.join(runs, "sweeps")\n'
                        'c = {"sweeps": 1}\nd = os.environ.get("TUNER_NEW_THING")\ne = root / "tuner.d"\n'
                        'f = "see tuner.d/run.json"\n')
    assert _spelled_names("tuner.foo", planted, known) == {"mlflow.json", "sweeps", "TUNER_NEW_THING", "tuner.d"}
    copy = ast.parse('META_DIR = "tuner.d"\n')
    assert _spelled_names("workers.view", copy, known) == set() and _spelled_names("workers.x", copy, known)
    own = ast.parse('TOKEN_ENV = "TUNER_DRIVER_TOKEN"\nRUN = "TUNER_RUN_DIR"\nenv = {"TUNER_X": 1}\n')
    assert _spelled_names("workers.x", own, known) == {"TUNER_RUN_DIR", "TUNER_X"}  # tuner's name; not a constant


# -- no printing outside the presentation layers -----------------------------------------------------------------

PRESENTATION = ("tuner.cli", "tuner.console", "tuner.notebook")
#: modules outside the presentation layers that may do one of the things the rule forbids, and why
PRINTING_ALLOWED = {
    ("tuner.channel", "import tuner.console.echo"): "the channel subscribes the console's renderer for library users",
    ("tuner.flags", "print()"): "the script's own --help text, which flags() prints for the script",
    ("tuner.flags", "sys.stdout"): "where that help goes unless flags() is told otherwise",
    ("tuner.interface._bootstrap", "sys.stdout"): "runs inside the script's process: flushes it before exiting",
    ("tuner.interface._bootstrap", "sys.stderr"): "the same",
    ("tuner.flags", "warnings.warn"): "script side: the calling script should change (a flags file that is missing)",
    ("tuner.tracking", "warnings.warn"): "script side: run metadata written outside a run",
}
#: what prints nothing and may be imported anywhere: the rule that makes run data inert is text in, text out
PURE_CONSOLE = ("tuner.console.inert",)


def _printing(tree: ast.Module) -> set[str]:
    """What in this module prints, prompts or renders: print()/input(), sys.stdout/stderr, rich, a console module
    (other than the pure ones), warnings.warn (library reports go through tuner.channel)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("print", "input"):
            found.add(f"{node.func.id}()")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sys" \
                and node.attr in ("stdout", "stderr", "__stdout__", "__stderr__"):
            found.add(f"sys.{node.attr}")
        elif isinstance(node, ast.Attribute) and ast.unparse(node) == "warnings.warn":
            found.add("warnings.warn")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            candidates = [[a.name] for a in node.names] if isinstance(node, ast.Import) else \
                [[node.module or "", f"{node.module}.{a.name}"] for a in node.names]
            for names in candidates:
                for name in names:
                    if (name.startswith("tuner.console") and not name.startswith(PURE_CONSOLE)) \
                            or name.split(".")[0] == "rich":
                        found.add("import " + name)
                        break
    return found


def test_only_the_presentation_layers_print() -> None:
    offenders = {(module, what) for module, tree in _parsed("tuner").items() if not module.startswith(PRESENTATION)
                 for what in _printing(tree)}
    assert offenders - set(PRINTING_ALLOWED) == set()


def test_the_printing_finder_finds_planted_printing() -> None:
    planted = ast.parse("import sys, warnings\nfrom rich.console import Console\n"
                        "from tuner.console.prompt import ask\nfrom tuner.console.inert import inert\n"
                        "def f():\n    print('x')\n    sys.stderr.write('y')\n    input('?')\n"
                        "    warnings.warn('z')\n")
    assert _printing(planted) == {"print()", "sys.stderr", "input()", "warnings.warn", "import rich.console",
                                  "import tuner.console.prompt"}


def test_the_exceptions_still_exist() -> None:
    """Every declared exception names something in the code: one that went away is taken off its list."""
    declared = set(DECLARED_STATE)
    assert not declared - _all_module_state(), declared - _all_module_state()
    printing = {(m, w) for m, tree in _parsed("tuner").items() for w in _printing(tree)}
    assert not set(PRINTING_ALLOWED) - printing, set(PRINTING_ALLOWED) - printing


# -- the picture of the house in docs/design.md is the one the code draws ------------------------------------------

def _house() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("house", ROOT / "docs" / "house.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_design_md_holds_the_house_the_code_draws_now() -> None:
    house = _house()
    held = house.held((ROOT / "docs" / "design.md").read_text(encoding="utf-8"))
    assert held is not None, "docs/design.md lost its house markers"
    assert held == house.picture(), "the house changed: run `python docs/house.py --write` and read the new picture"


def test_the_house_has_floors_and_draws_a_planted_house(tmp_path: Path) -> None:
    """Rooms' top imports make no circle (each room has a floor), and the drawing reads a house it is given."""
    house = _house()
    for name, body in {"tuner/__init__.py": "", "tuner/errors.py": "", "tuner/cli/__init__.py": "",
                       "tuner/cli/main.py": "from tuner.store import files\nfrom tuner import errors\n",
                       "tuner/store/__init__.py": "", "tuner/store/files.py": "import tuner.errors\n"
                       "def late():\n    from tuner.cli import main\n", "workers/__init__.py": ""}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    drawn = house.picture(tmp_path)
    assert "5 rooms on 3 floors; 2 arrows down drawn (1 more that a longer way implies are not), 1 back up" in drawn
    ids = dict(re.findall(r'^ +(r\d+)\["([^"]+)"\]', drawn, flags=re.M))
    by_name = {name: rid for rid, name in ids.items()}
    assert f"{by_name['tuner/cli/']} --> {by_name['tuner/store/']}" in drawn
    assert f"{by_name['tuner/store/']} -.-> {by_name['tuner/cli/']}" in drawn  # a function's import back up
    assert f"{by_name['tuner/cli/']} --> {by_name['tuner/errors.py']}" not in drawn  # implied by store's
    (tmp_path / "tuner/errors.py").write_text("from tuner.cli import main\n")  # a circle at the top: no floors
    with pytest.raises(ValueError, match="import each other at the top"):
        house.picture(tmp_path)
