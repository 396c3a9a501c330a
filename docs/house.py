"""The house: tuner's folders as rooms and their imports as arrows, drawn from the code (docs/design.md, section 2).

    python docs/house.py           print the picture (a Mermaid flowchart)
    python docs/house.py --write   put it into docs/design.md, between the house markers

Every import counts, a function's own (`from tuner.x import y` inside a function) too: the code imports lazily to
start fast, and a lazy import is as much a dependency as one at the top. A room is a folder of tuner/ (and workers/,
one room: it never imports tuner) or one module of tuner/'s top. A room stands on a floor above every room it
imports at the top of its modules (those imports make no circle among rooms: tests/tuner_tests/test_layout.py).
An arrow that goes down is drawn only when no longer way down implies it; an arrow that runs back up or across (a
function's own import of a room on its floor or above, where two folders meet in both directions) is dotted.
tests/tuner_tests/test_layout.py checks that design.md holds the picture the code draws now.
Standard library only, so it runs anywhere the repository is.
"""

from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- house: begin (python docs/house.py --write) -->", "<!-- house: end -->"
#: too small to be a room (a version string, `python -m tuner`'s one line, a re-export for Keras)
LEFT_OUT = frozenset({"tuner._version", "tuner.__main__", "tuner.keras"})


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of tuner/ and workers/ by dotted name."""
    found = {}
    for top in ("tuner", "workers"):
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> tuple[set[str], set[str]]:
    """The modules of ours that module `name` imports: (at its top, anywhere in it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    at_top: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
                if id(node) in top:
                    at_top.add(target)
    return at_top, found


def room(name: str, root: Path = ROOT) -> str:
    parts = name.split(".")
    if parts[0] == "workers":
        return "workers/"
    if len(parts) == 1:
        return "tuner/__init__.py"
    return f"tuner/{parts[1]}/" if (root / "tuner" / parts[1]).is_dir() else f"tuner/{parts[1]}.py"


def picture(root: Path = ROOT) -> str:
    every = modules(root)
    known = {name: path for name, path in every.items() if name not in LEFT_OUT}
    found = {name: tuple(targets - LEFT_OUT for targets in imports(name, path, every))
             for name, path in known.items()}

    def arrows_of(which: int) -> set[tuple[str, str]]:
        return {(room(a, root), room(b, root)) for a, both in found.items() for b in both[which]
                if room(a, root) != room(b, root)}

    structure = arrows_of(0)  # imports at the top of a module: among rooms they make no circle (test_layout)
    arrows = arrows_of(1)

    climbing: list[str] = []

    @lru_cache(maxsize=None)
    def floor(name: str) -> int:
        if name in climbing:  # rooms that import each other at their top have no floors
            raise ValueError("rooms import each other at the top of their modules: "
                             + " -> ".join(climbing[climbing.index(name):] + [name]))
        climbing.append(name)
        level = 1 + max((floor(b) for a, b in structure if a == name), default=0)
        climbing.pop()
        return level

    rooms = {room(name, root): 0 for name in known}
    rooms = {name: floor(name) for name in rooms}
    down = {(a, b) for a, b in arrows if rooms[a] > rooms[b]}
    below: dict[str, set[str]] = {}
    for name in sorted(rooms, key=rooms.__getitem__):  # ground first: what each room reaches going down
        below[name] = set().union(*({b} | below[b] for a, b in down if a == name)) if any(
            a == name for a, _ in down) else set()
    implied = {(a, b) for a, b in down if any(b in below[c] for x, c in down if x == a and c != b)}
    ids = {name: f"r{i}" for i, name in enumerate(sorted(rooms))}
    lines = ["```mermaid", "flowchart TB"]
    for level in sorted(set(rooms.values()), reverse=True):
        names = sorted(n for n in rooms if rooms[n] == level)
        lines.append(f"  subgraph floor{level}[\"floor {level}\"]")
        lines += [f"    {ids[n]}[\"{n}\"]" for n in names]
        lines.append("  end")
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in sorted(down - implied)]
    lines += [f"  {ids[a]} -.-> {ids[b]}" for a, b in sorted(arrows - down)]
    lines.append("```")
    summary = (f"{len(rooms)} rooms on {len(set(rooms.values()))} floors; {len(down - implied)} arrows down drawn "
               f"({len(implied)} more that a longer way implies are not), {len(arrows - down)} back up or across "
               "(dotted: a function's own import)")
    return "\n".join(lines) + "\n\n" + summary + "\n"


def held(design: str) -> str | None:
    """The picture docs/design.md holds, None without the markers."""
    if BEGIN not in design or END not in design:
        return None
    return design.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main(argv: list[str]) -> int:
    drawn = picture()
    if argv[1:] != ["--write"]:
        print(drawn, end="")
        return 0
    path = ROOT / "docs" / "design.md"
    design = path.read_text(encoding="utf-8")
    if held(design) is None:
        print(f"docs/design.md has no {BEGIN} ... {END} markers", file=sys.stderr)
        return 2
    before, rest = design.split(BEGIN, 1)
    path.write_text(before + BEGIN + "\n" + drawn + END + rest.split(END, 1)[1], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
