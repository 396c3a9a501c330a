"""A script's interface, found without running its training code (docs/design.md, "The script's interface").

The script runs in a subprocess under `_bootstrap.py`, which patches the option parsers (argparse, absl,
click, tuner.flags()) so that the moment the script parses its options the parser's flags are written as
JSON and the process exits. A script that parses nothing runs to its end: its kind is "unknown".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Sequence

from tuner.errors import FlagError, ScriptNotFoundError
from tuner.store.layout import ENV_DISCOVER_FLAGS, ENV_FLAGS_JSON, ENV_RUN_DIR

#: the environment variable tuner.flags() checks: set, it hands its declarations to the bootstrap and exits
ENV_DISCOVER = ENV_DISCOVER_FLAGS
DEFAULT_TIMEOUT_S = 60.0
KINDS = ("tuner", "argparse", "absl", "click", "unknown")


@dataclass(frozen=True)
class FlagSpec:
    """One option as the script declares it."""

    name: str                  # as the script spells it on the command line: "--batch-size", "--10sec", "lr"
    dest: str                  # the key the script reads: "batch_size"
    type: str = "str"          # int | float | str | bool | list | another callable's name
    default: Any = None
    choices: tuple[Any, ...] | None = None
    help: str = ""
    kind: str = "valued"       # valued | store_true | store_false | absl_bool | boolean_optional | count |
    #                            append | append_const | store_const | positional
    nargs: Any = None          # argparse's nargs: None, an int, "?", "*", "+"
    options: tuple[str, ...] = ()
    required: bool = False
    #: what the script gets when the option is not passed (argparse's string default run through its type,
    #: click's cast default, absl's parsed default), recorded in flags.json as the run's default; only when
    #: `has_value`: a value JSON keeps exactly (a Path, an enum, a callable default is not recorded)
    value: Any = None
    has_value: bool = False

    @property
    def is_switch(self) -> bool:
        return self.kind in ("store_true", "store_false", "absl_bool", "boolean_optional")

    @property
    def takes_many(self) -> bool:
        return self.kind == "append" or self.nargs in ("*", "+") or (isinstance(self.nargs, int) and self.nargs > 1)


@dataclass(frozen=True)
class ScriptInterface:
    script: str
    kind: str
    flags: tuple[FlagSpec, ...] = field(default_factory=tuple)

    def lookup(self, name: str) -> FlagSpec | None:
        """The flag a grid name means: its dest, or its option name with or without the dashes."""
        for spec in self.flags:
            if name in (spec.dest, spec.name.lstrip("-"), spec.name) or name in (o.lstrip("-") for o in spec.options):
                return spec
        normal = name.replace("-", "_")
        for spec in self.flags:
            if normal in (spec.dest, spec.name.lstrip("-").replace("-", "_")):
                return spec
        return None

    def defaults(self, passed: Iterable[str]) -> dict[str, Any]:
        """The flags the script runs with that tune does not pass, with their default values, by dest (the name
        the script reads: `batch_size`), in declaration order: recorded beside the passed ones (tuner.spec).
        A flag whose default cannot be recorded exactly, or that is required, is left out."""
        names = set(passed)
        given = names | {spec.dest for name in names if (spec := self.lookup(name)) is not None}
        found: dict[str, Any] = {}
        for spec in self.flags:
            if spec.has_value and spec.dest not in given:
                found.setdefault(spec.dest, spec.value)  # two options of one dest: argparse keeps the first default
        return found

    def to_dict(self) -> dict[str, Any]:
        return {"script": self.script, "kind": self.kind, "flags": [asdict(f) for f in self.flags]}

    def to_frame(self) -> Any:
        import pandas as pd

        columns = ["name", "dest", "type", "default", "choices", "help", "kind", "nargs"]
        return pd.DataFrame([{c: getattr(f, c) for c in columns} for f in self.flags], columns=columns)


def _spec(raw: dict[str, Any]) -> FlagSpec:
    choices = raw.get("choices")
    return FlagSpec(name=str(raw["name"]), dest=str(raw.get("dest") or raw["name"]), type=str(raw.get("type") or "str"),
                    default=raw.get("default"), choices=tuple(choices) if choices is not None else None,
                    help=raw.get("help") or "", kind=raw.get("kind") or "valued", nargs=raw.get("nargs"),
                    options=tuple(raw.get("options") or ()), required=bool(raw.get("required")),
                    value=raw.get("value"), has_value="value" in raw)


#: a script that mentions none of these parses no options of its own: it is not run to find out (it would run
#: to its end). One whose parser is set up in a module it imports is then "unknown" (flags go as --name=value)
PARSER_WORDS = ("argparse", "absl", "click", "flags(", "optparse", "typer")


def mentions_a_parser(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return True
    return any(word in text for word in PARSER_WORDS)


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def discover_flags(script: str | os.PathLike[str], cwd: str | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> ScriptInterface:
    """Run `script` up to its option parsing in a subprocess and return what it accepts."""
    path = os.path.abspath(os.fspath(script))
    if not os.path.isfile(path):
        raise ScriptNotFoundError(f"script '{os.fspath(script)}' does not exist or is not a file; check the path "
                                  f"(relative to {os.getcwd()})")
    if not mentions_a_parser(path):
        return ScriptInterface(path, "unknown", ())
    bootstrap = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap.py")
    with tempfile.TemporaryDirectory(prefix="tuner-flags-") as tmp:
        out = os.path.join(tmp, "interface.json")
        env = dict(os.environ)
        env.pop(ENV_DISCOVER, None)
        for key in (ENV_RUN_DIR, ENV_FLAGS_JSON):
            env.pop(key, None)  # not a run: nothing may be recorded
        done = _run_to_parsing([sys.executable, bootstrap, out, path], cwd or os.getcwd(), env, timeout_s)
        if done is None:
            raise FlagError(f"{script}: finding its flags timed out after {timeout_s:g} s before it parsed its "
                            "options (it may start training at import time); pass --no-check (check=False) "
                            "to launch without checking the flags")
        if os.path.exists(out):
            with open(out, encoding="utf-8") as handle:
                data = json.load(handle)
            return ScriptInterface(path, data["kind"], tuple(_spec(f) for f in data["flags"]))
        if done.returncode != 0:
            raise FlagError(f"{script}: exited with status {done.returncode} before parsing its options "
                            f"({_tail(done.stderr or done.stdout, 1) or 'no output'}), so its flags cannot be "
                            "checked; fix that, or pass --no-check (check=False) to launch anyway")
    return ScriptInterface(path, "unknown", ())


def _run_to_parsing(command: list[str], cwd: str, env: dict[str, str],
                    timeout_s: float) -> subprocess.CompletedProcess[str] | None:
    """The script up to its option parsing, in a view of its project whose writes are thrown away (what its
    top-level code writes, its bytecode, never lands in the project: workers.view); None when it timed out."""
    from workers.view import scratch_view

    def spawn(argv: Sequence[str], where: str | None, before_exec: Callable[[], None] | None) -> subprocess.Popen[Any]:
        return subprocess.Popen(list(argv), cwd=where, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace", preexec_fn=before_exec)

    with scratch_view(cwd) as view:
        proc = view.start(command, spawn)
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def script_flags(script: str | os.PathLike[str], as_frame: bool = False, cwd: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
    """The flags `script` accepts (what `tune flags` prints): a ScriptInterface, or with `as_frame` a DataFrame
    with columns name, dest, type, default, choices, help, kind, nargs."""
    interface = discover_flags(script, cwd=cwd, timeout_s=timeout_s)
    return interface.to_frame() if as_frame else interface


def tuner_flags_hook(specs: Any) -> None:
    """Called by tuner.flags() when ENV_DISCOVER is set: hand the declarations to the bootstrap (exits)."""
    bootstrap = sys.modules.get("__tuner_discover__")
    if bootstrap is not None:
        bootstrap.tuner_dump(list(specs))
