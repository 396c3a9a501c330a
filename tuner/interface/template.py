"""Command templates: scripts whose options are not `--name=value` (docs/design.md, "The script's interface").

A template is the trial's command line, one item per argument (never a shell), with W&B's anchors:
  ${interpreter}      this Python (sys.executable)         ${program}       the script's absolute path
  ${args}             the flags in the script's own option syntax (several items)
  ${args_no_hyphens}  the flags as `name=value` items: Hydra-style overrides
  ${args_json_file}   the path of tuner.d/args.json, written for each trial with the flags
  ${args_yaml_file}   the same as a YAML file (tuner.d/args.yml)
  ${flag.NAME}        one flag's value, inside any item (`data/${flag.dataset}.csv`) or alone (positional)
Given in the settings (`command`, one string split like a shell line but never run by one) or in a grid file
(the reserved top-level key `command`: that string, a list of items, or a mapping with `argv` (string or list)
and `env` (environment variables: name -> a template string, e.g. `LR: ${flag.lr}`)).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from tuner.errors import ConfigError

DEFAULT_ARGV = ("${interpreter}", "${program}", "${args}")
_WHOLE = ("${args}", "${args_no_hyphens}")
_ANCHOR = re.compile(r"\$\{([^}]*)\}")
_SCALARS = ("interpreter", "program", "args_json_file", "args_yaml_file")
ARGS_JSON = "args.json"
ARGS_YAML = "args.yml"


@dataclass(frozen=True)
class CommandTemplate:
    argv: tuple[str, ...] = DEFAULT_ARGV
    env: tuple[tuple[str, str], ...] = ()
    where: str = "command"

    @property
    def uses_options(self) -> bool:
        """Whether the script gets its flags as options (then its interface is discovered and checked)."""
        return "${args}" in self.argv

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
    if isinstance(value, Mapping):
        unknown = set(value) - {"argv", "env"}
        if unknown:
            raise ConfigError(f"{where}: command has unknown keys {', '.join(sorted(map(str, unknown)))}; "
                              "expected argv and env")
        argv, env = value.get("argv", list(DEFAULT_ARGV)), value.get("env") or {}
        if not isinstance(env, Mapping):
            raise ConfigError(f"{where}: command env must be a mapping NAME: value")
    if isinstance(argv, str):
        try:
            argv = shlex.split(argv)
        except ValueError as exc:
            raise ConfigError(f"{where}: command {argv!r}: {exc}") from None
    if not isinstance(argv, list) or not argv or not all(isinstance(a, (str, int, float)) for a in argv):
        raise ConfigError(f"{where}: command must be a string or a list of strings, "
                          "e.g. \"${{interpreter}} ${{program}} ${{args_no_hyphens}}\"")
    template = CommandTemplate(tuple(str(a) for a in argv), tuple((str(k), str(v)) for k, v in env.items()), where)
    problems = []
    for text in (*template.argv, *(v for _, v in template.env)):
        for anchor in _ANCHOR.findall(text):
            if f"${{{anchor}}}" in _WHOLE:
                if text != f"${{{anchor}}}":
                    problems.append(f"${{{anchor}}} must be an item of its own, got {text!r}")
            elif anchor not in _SCALARS and not (anchor.startswith("flag.") and len(anchor) > 5):
                problems.append(f"unknown anchor ${{{anchor}}} (known: ${{interpreter}}, ${{program}}, ${{args}}, "
                                "${args_no_hyphens}, ${args_json_file}, ${args_yaml_file}, ${flag.NAME})")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return template


def check_template_flags(template: CommandTemplate, names: Iterable[str]) -> None:
    missing = sorted(template.flag_names() - set(names))
    if missing:
        raise ConfigError(f"{template.where}: the command uses {', '.join('${flag.' + n + '}' for n in missing)} "
                          "but the flags have no such flag; add it to the grid or fix the name")


def render_command(template: CommandTemplate, script: str, option_argv: list[str], flags: Mapping[str, Any],
                   meta_dir: str) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(argv, environment additions, files to write) for one trial."""
    from tuner.interface.argv import render
    from workers.files import dumps_json

    files: dict[str, str] = {}
    scalars = {"interpreter": sys.executable, "program": script,
               "args_json_file": os.path.join(meta_dir, ARGS_JSON), "args_yaml_file": os.path.join(meta_dir, ARGS_YAML)}

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "args_json_file":
                files[scalars[name]] = dumps_json(dict(flags), indent=2) + "\n"
            if name == "args_yaml_file":  # JSON is YAML: the file reads back exactly, every value typed
                files[scalars[name]] = dumps_json(dict(flags), indent=2) + "\n"
            if name.startswith("flag."):
                return render(flags[name[5:]])
            return scalars[name]
        return _ANCHOR.sub(one, text)

    argv: list[str] = []
    for item in template.argv:
        if item == "${args}":
            argv.extend(option_argv)
        elif item == "${args_no_hyphens}":
            argv.extend(f"{name}={render(value)}" for name, value in flags.items())
        else:
            argv.append(fill(item))
    env = {name: fill(value) for name, value in template.env}
    return argv, env, files


def resolve_template(flags_source: Any, settings: Any) -> CommandTemplate | None:
    """The grid file's `command:` (once the grid has been read), else the `command` setting, else None."""
    from tuner.plan import grid_file_command

    raw = grid_file_command(flags_source)
    if raw is not None:
        return parse_template(raw, f"{os.fspath(flags_source)}: command")
    if settings.command:
        return parse_template(settings.command, f"setting 'command' ({settings.sources.get('command', 'settings')})")
    return None
