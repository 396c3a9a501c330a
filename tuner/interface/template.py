"""Command templates: scripts whose options are not `--name=value` (docs/design.md, "The script's interface").

A template is the trial's command line, one item per argument (never a shell), with W&B's anchors:
  ${interpreter}      this Python (sys.executable)         ${program}       the script's absolute path
  ${args}             the flags in the script's own option syntax (several items)
  ${args_no_hyphens}  the flags as `name=value` items: Hydra-style overrides
  ${args_json_file}   the path of tuner.d/args.json, written for each trial with the flags
  ${args_yaml_file}   the same as a YAML file (tuner.d/args.yml)
  ${flag.NAME}        one flag's value, inside any item (`data/${flag.dataset}.csv`) or alone (positional)
  ${checkpoint_dir}   the folder the script saves its checkpoint into and continues from (as $TUNER_CHECKPOINT_DIR),
                      for scripts with their own `--ckpt-dir`/`--resume` options (`--ckpt-dir=${checkpoint_dir}`)
and the rest of W&B's macros (wandb's agent, `_command_run` and sweeps utils):
  ${env}              /usr/bin/env (left out on Windows)
  ${args_no_boolean_flags}  `--name=value`, a true boolean as `--name` and a false one left out
  ${args_json}        one item: the flags as JSON
  ${envvar:NAME}      the driver's environment variable NAME, inside any item (NAME itself when it is unset)
Style `wandb` (a converted W&B sweep, tuner.formats.wandb) writes values as W&B's agent does, Python's str()
(`True`, `None`, `[1, 2]`), `${args_no_boolean_flags}`/`${args_no_hyphens}` without the script's interface,
and `${args_json}`/`${args_json_file}` nested again as W&B's nested parameters were (`nest`: flag -> path);
`${args}` keeps the script's own syntax for its switches (`--flag`, where W&B's `--flag=True` is refused by
argparse) and W&B's text for valued options. `${interpreter}` is the Python tune runs (W&B's agent: `python`
on PATH); W&B drops an item that is an unknown macro, tune refuses it.
Given in the settings (`command`, one string split like a shell line but never run by one) or in a grid file
(the reserved top-level key `command`: that string, a list of items, or a mapping with `argv` (string or list)
and `env` (environment variables: name -> a template string, e.g. `LR: ${flag.lr}`)).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from tuner.errors import ConfigError, quoted
from tuner.store.layout import ARGS_JSON, ARGS_YAML

if TYPE_CHECKING:
    pass

DEFAULT_ARGV = ("${interpreter}", "${program}", "${args}")
_WHOLE = ("${args}", "${args_no_hyphens}", "${args_no_boolean_flags}", "${args_json}", "${env}")
_ANCHOR = re.compile(r"\$\{([^}]*)\}")
#: W&B's ${envvar:NAME}: its agent matches upper-case names only
_ENVVAR = re.compile(r"\$\{envvar:([A-Z0-9_]*)\}")
_SCALARS = ("interpreter", "program", "args_json_file", "args_yaml_file", "checkpoint_dir")
STYLES = ("tune", "wandb")


@dataclass(frozen=True)
class CommandTemplate:
    argv: tuple[str, ...] = DEFAULT_ARGV
    env: tuple[tuple[str, str], ...] = ()
    where: str = "command"
    #: "tune", or "wandb": values written as W&B's agent writes them (see the module's docstring)
    style: str = "tune"
    #: flag -> its path in W&B's nested parameters (`optimizer.lr` -> ("optimizer", "lr")), for the JSON anchors
    nest: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def uses_options(self) -> bool:
        """Whether the script gets its flags as options (then its interface is discovered and checked)."""
        return "${args}" in self.argv or "${args_no_boolean_flags}" in self.argv

    def to_source(self) -> dict[str, Any]:
        """The mapping parse_template reads back (a sweep's journal keeps it, so resume builds the same argv)."""
        source: dict[str, Any] = {"argv": list(self.argv), "env": dict(self.env)}
        if self.style != "tune":
            source["style"] = self.style
        if self.nest:
            source["nest"] = {name: list(path) for name, path in self.nest}
        return source

    def flag_names(self) -> set[str]:
        names: set[str] = set()
        for text in (*self.argv, *(v for _, v in self.env)):
            names.update(m[5:] for m in _ANCHOR.findall(text) if m.startswith("flag."))
        return names


def parse_template(value: Any, where: str) -> CommandTemplate | None:
    if value is None:
        return None
    env: dict[str, Any] = {}
    argv: Any = value
    style: Any = "tune"
    nest: Any = {}
    if isinstance(value, Mapping):
        unknown = set(value) - {"argv", "env", "style", "nest"}
        if unknown:
            raise ConfigError(f"{where}: command has unknown keys {', '.join(sorted(map(str, unknown)))}; "
                              "expected argv and env")
        argv, env = value.get("argv", list(DEFAULT_ARGV)), value.get("env") or {}
        style, nest = value.get("style", "tune"), value.get("nest") or {}
        if not isinstance(env, Mapping):
            raise ConfigError(f"{where}: command env must be a mapping NAME: value")
        if style not in STYLES or not isinstance(nest, Mapping):
            raise ConfigError(f"{where}: command style must be one of {', '.join(STYLES)} and nest a mapping "
                              f"flag: [path ...], got {quoted(style)}, {quoted(nest)}")
    if isinstance(argv, str):
        try:
            argv = shlex.split(argv)
        except ValueError as exc:
            raise ConfigError(f"{where}: command {quoted(argv)}: {exc}") from None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, (str, int, float)) for a in argv):
        raise ConfigError(f"{where}: command must be a string or a list of strings, "
                          "e.g. \"${{interpreter}} ${{program}} ${{args_no_hyphens}}\"")
    template = CommandTemplate(tuple(str(a) for a in argv), tuple((str(k), str(v)) for k, v in env.items()), where,
                               str(style), tuple((str(n), tuple(str(p) for p in path)) for n, path in nest.items()))
    problems = [f"environment variable name {quoted(name)} is not one a process can have (empty, or holding '=' "
                "or a NUL character); use letters, digits and _" for name, _ in template.env
                if not name or "=" in name or "\0" in name]
    problems += [f"{quoted(text)} holds a NUL character, which no command line or environment can carry"
                 for text in (*template.argv, *(v for _, v in template.env)) if "\0" in text]
    for text in (*template.argv, *(v for _, v in template.env)):
        for anchor in _ANCHOR.findall(_ENVVAR.sub("", text)):
            if f"${{{anchor}}}" in _WHOLE:
                if text != f"${{{anchor}}}":
                    problems.append(f"${{{anchor}}} must be an item of its own, got {quoted(text)}")
            elif anchor not in _SCALARS and not (anchor.startswith("flag.") and len(anchor) > 5):
                problems.append(f"unknown anchor ${{{anchor}}} (known: ${{env}}, ${{interpreter}}, ${{program}}, "
                                "${args}, ${args_no_hyphens}, ${args_no_boolean_flags}, ${args_json}, "
                                "${args_json_file}, ${args_yaml_file}, ${checkpoint_dir}, ${envvar:NAME}, "
                                "${flag.NAME})")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return template


def shell_word(text: str) -> str:
    """`text` as one word a POSIX shell reads back exactly, and inert on a terminal: shlex.quote, or where the text
    holds a character that is not printable (a newline, an escape sequence, a bidi override) the $'...' form with
    every such character escaped (bash, zsh, ksh, dash 0.5.12, POSIX.1-2024), so pasting it gives the same text
    and printing it cannot retitle, clear or reorder the user's terminal."""
    if text.isprintable():
        return shlex.quote(text)
    out = []
    for char in text:
        if char in "\\'":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif char in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[char])
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return "$'" + "".join(out) + "'"


def shell_line(argv: Iterable[str], anchors: bool = False) -> str:
    """A command line to read or paste: every item by shell_word; `anchors`: an item that is only a template
    anchor (`${args}`) is shown as it is, as the part each trial fills in."""
    return " ".join(item if anchors and _ANCHOR.fullmatch(item) else shell_word(item) for item in argv)


def check_template_flags(template: CommandTemplate, names: Iterable[str]) -> None:
    missing = sorted(template.flag_names() - set(names))
    if missing:
        raise ConfigError(f"{template.where}: the command uses {', '.join('${flag.' + n + '}' for n in missing)} "
                          "but the flags have no such flag; add it to the grid or fix the name")


def render_command(template: CommandTemplate, script: str, option_argv: list[str], flags: Mapping[str, Any],
                   meta_dir: str, checkpoint_dir: str = "") -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(argv, environment additions, files to write) for one trial; `checkpoint_dir` fills ${checkpoint_dir}."""
    from tuner.interface.argv import render
    from workers.files import dumps_json

    wandb = template.style == "wandb"
    text = _wandb_text if wandb else render
    files: dict[str, str] = {}
    scalars = {"interpreter": sys.executable, "program": script,
               "args_json_file": os.path.join(meta_dir, ARGS_JSON), "args_yaml_file": os.path.join(meta_dir, ARGS_YAML),
               "checkpoint_dir": checkpoint_dir}

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "args_json_file":
                files[scalars[name]] = (json.dumps(_nested(flags, template.nest)) if wandb
                                        else dumps_json(dict(flags), indent=2) + "\n")
            if name == "args_yaml_file":  # JSON is YAML: the file reads back exactly, every value typed
                files[scalars[name]] = dumps_json(dict(flags), indent=2) + "\n"
            if name.startswith("flag."):
                return render(flags[name[5:]])
            return scalars[name]
        return _ANCHOR.sub(one, _ENVVAR.sub(lambda m: os.environ.get(m.group(1), m.group(1)), text))

    argv: list[str] = []
    for item in template.argv:
        if item == "${args}":
            argv.extend(option_argv)
        elif item == "${args_no_hyphens}":
            argv.extend(f"{name}={text(value)}" for name, value in flags.items())
        elif item == "${args_no_boolean_flags}":
            argv.extend(f"--{name}" if value is True else f"--{name}={text(value)}"
                        for name, value in flags.items() if value is not False)
        elif item == "${args_json}":
            argv.append(json.dumps(_nested(flags, template.nest)) if wandb else dumps_json(dict(flags)))
        elif item == "${env}":
            argv.extend([] if sys.platform == "win32" else ["/usr/bin/env"])
        else:
            argv.append(fill(item))
    env = {name: fill(value) for name, value in template.env}
    return argv, env, files


def _wandb_text(value: Any) -> str:
    """A value as W&B's agent writes it into argv: Python's str() (`True`, `None`, `[1, 2]`, `0.001`)."""
    return str(value)


def _nested(flags: Mapping[str, Any], nest: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, Any]:
    """The flags with W&B's nested parameters nested again (`optimizer.lr` -> {"optimizer": {"lr": ...}})."""
    paths = dict(nest)
    out: dict[str, Any] = {}
    for name, value in flags.items():
        path = paths.get(name, (name,))
        level = out
        for key in path[:-1]:
            level = level.setdefault(key, {})
        level[path[-1]] = value
    return out


def resolve_template(settings: Any, command: Any = None, where: str = "command") -> CommandTemplate | None:
    """`command` (an argument, or a flags file's `command:`; `where` names it in errors), else the `command`
    setting, else None."""
    if command is not None:
        return parse_template(command, where)
    if settings.command:
        return parse_template(settings.command, f"setting 'command' ({settings.sources.get('command', 'settings')})")
    return None
