"""Run a script until it parses its options, dump the parser as JSON, exit (`python _bootstrap.py OUT SCRIPT`).

Standalone on purpose: it must not import tuner (the script's own imports may be heavy; ours must not be).
Patched: argparse.ArgumentParser.parse_args/parse_known_args/parse_intermixed_args, absl's FlagValues.__call__
(what app.run and FLAGS(argv) call), click's Command.main, and tuner.flags() (through TUNER_DISCOVER_FLAGS,
which tuner/flags.py checks). The first parse wins; the training code after it never runs.
"""

# mypy: ignore-errors
# (it monkeypatches argparse, absl and click classes, which is what it is for)
import json
import os
import runpy
import sys

OUT = sys.argv[1]
#: tuner.store.layout.ENV_DISCOVER_FLAGS, copied: this file cannot import tuner (tests/tuner_tests/test_layout.py
#: checks that the two agree)
ENV_DISCOVER_FLAGS = "TUNER_DISCOVER_FLAGS"
SCRIPT = sys.argv[2]


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def _exact(value):
    """(True, value as JSON keeps it exactly) for the values a flag can hold in flags.json: None, bools, ints,
    strings, floats (inf/nan as "inf"/"-inf"/"nan", the text tuner.values reads back as floats) and lists or
    tuples of them; (False, None) for anything else (a Path, an enum, an object), which is then not recorded."""
    if value is None or isinstance(value, (bool, int, str)):
        return (True, value) if type(value) in (type(None), bool, int, str) else (False, None)
    if type(value) is float:
        return True, value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if isinstance(value, (list, tuple)):
        items = [_exact(v) for v in value]
        if all(ok for ok, _ in items):
            return True, [v for _, v in items]
    return False, None


def _with_value(entry, known, value):
    """The flag's JSON entry plus `value`: what the script gets when tune does not pass the option (recorded in
    flags.json as the run's default, tuner.spec); left out when it cannot be recorded exactly."""
    if known:
        ok, exact = _exact(value)
        if ok:
            entry["value"] = exact
    return entry


def _type_name(kind):
    if kind is None:
        return "str"
    name = getattr(kind, "__name__", None) or type(kind).__name__
    return {"int": "int", "float": "float", "str": "str", "bool": "bool"}.get(name, name)


def dump(kind, flags):
    tmp = OUT + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"kind": kind, "flags": flags}, handle)
    os.replace(tmp, OUT)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# --- argparse ---------------------------------------------------------------------------------------------
import argparse  # noqa: E402

_KINDS = {"_StoreTrueAction": "store_true", "_StoreFalseAction": "store_false", "_CountAction": "count",
          "_AppendAction": "append", "_AppendConstAction": "append_const", "_StoreConstAction": "store_const",
          "BooleanOptionalAction": "boolean_optional", "_StoreAction": "valued", "_ExtendAction": "append"}
_SKIP = ("_HelpAction", "_VersionAction", "_SubParsersAction")


def _argparse_value(parser, action):
    """(known, value) of `action`'s dest when its option is not given: the default, which parse_args runs through
    the option's type when it is a string (as argparse does); unknown for SUPPRESS, required options and a
    type that fails on its own default."""
    default = action.default
    if default is argparse.SUPPRESS or action.required:
        return False, None
    if isinstance(default, str) and action.type is not None:
        if isinstance(action.type, argparse.FileType):  # converting would open (or create) the file
            return False, None
        try:
            default = parser._get_value(action, default)
        except Exception:  # the script's own parse would fail the same way: nothing to record
            return False, None
    return True, default


def _argparse_dump(parser, *args, **kwargs):
    flags = []
    for action in parser._actions:
        cls = type(action).__name__
        if cls in _SKIP:
            continue
        options = list(action.option_strings)
        long = [o for o in options if o.startswith("--")]
        nargs = action.nargs
        flags.append(_with_value({
            "name": (long or options or [action.dest])[0], "options": options, "dest": action.dest,
            "type": "bool" if cls in ("_StoreTrueAction", "_StoreFalseAction", "BooleanOptionalAction")
            else "int" if cls == "_CountAction" else _type_name(action.type),
            "default": _jsonable(action.default if action.default is not argparse.SUPPRESS else None),
            "choices": _jsonable(list(action.choices)) if action.choices is not None else None,
            "help": action.help if isinstance(action.help, str) and action.help != argparse.SUPPRESS else "",
            "kind": "positional" if not options else _KINDS.get(cls, "valued"),
            "nargs": nargs if nargs is None or isinstance(nargs, (int, str)) else str(nargs),
            "required": bool(getattr(action, "required", False)),
        }, *_argparse_value(parser, action)))
    dump("argparse", flags)


for _method in ("parse_args", "parse_known_args", "parse_intermixed_args", "parse_known_intermixed_args"):
    if hasattr(argparse.ArgumentParser, _method):
        setattr(argparse.ArgumentParser, _method, _argparse_dump)


# --- absl -------------------------------------------------------------------------------------------------
def _patch_absl():
    try:
        from absl import flags as absl_flags
    except ImportError:
        return

    def call(self, argv=None, known_only=False):
        out = []
        for module, defined in self.flags_by_module_dict().items():
            if module.startswith("absl.") or module.startswith("tensorflow"):
                continue
            for flag in defined:
                ftype = flag.flag_type()
                boolean = bool(getattr(flag, "boolean", False))
                choices = getattr(flag.parser, "enum_values", None)
                multi = ftype.startswith("multi")
                kind = "absl_bool" if boolean else ("append" if multi else "valued")
                type_name = {"integer": "int", "float": "float", "bool": "bool", "string": "str",
                             "enum": "str", "multi_string": "str", "multi_integer": "int", "multi_float": "float",
                             "multi_enum": "str", "list": "list", "whitespace separated list": "list"}.get(
                    ftype, "str" if "enum" in ftype else ftype)
                # absl parses a default when it is defined: flag.default is the typed value the script reads
                out.append(_with_value({"name": "--" + flag.name, "options": ["--" + flag.name], "dest": flag.name,
                                        "type": type_name, "default": _jsonable(flag.default),
                                        "choices": _jsonable(list(choices)) if choices else None,
                                        "help": flag.help or "", "kind": kind, "nargs": None, "required": False},
                                       not getattr(flag, "required", False), flag.default))
        dump("absl", out)

    absl_flags.FlagValues.__call__ = call


# --- click ------------------------------------------------------------------------------------------------
def _patch_click():
    try:
        import click
    except ImportError:
        return
    base = click.core.Command  # click < 8.2 inherits main from BaseCommand: patched here all the same

    def main(self, *args, **kwargs):
        out = []
        for param in self.params:
            if getattr(param, "hidden", False) or param.name == "help":
                continue
            option = isinstance(param, click.Option)
            ptype = param.type
            choices = getattr(ptype, "choices", None)
            is_flag = option and param.is_flag and not getattr(param, "count", False)
            kind = ("positional" if not option else "count" if getattr(param, "count", False)
                    else ("store_true" if not param.secondary_opts else "boolean_optional") if is_flag
                    else "append" if param.multiple else "valued")
            name = {"integer": "int", "float": "float", "boolean": "bool", "text": "str", "choice": "str"}.get(
                getattr(ptype, "name", "text"), getattr(ptype, "name", "str"))
            opts = list(param.opts)
            long = [o for o in opts if o.startswith("--")]
            default = param.default
            if "UNSET" in repr(default):  # click 8.2's "no default given"
                default = False if is_flag else None
            out.append(_with_value({"name": (long or opts)[0] if option else param.name, "options": opts + list(
                param.secondary_opts), "dest": param.name, "type": "bool" if is_flag else name,
                "default": _jsonable(None if callable(default) else default),
                "choices": _jsonable(list(choices)) if choices else None,
                "help": (getattr(param, "help", None) or ""), "kind": kind,
                "nargs": param.nargs if param.nargs != 1 else None, "required": bool(param.required)},
                *_click_value(self, param, default, name)))
        dump("click", out)

    def _click_value(command, param, default, type_name):
        """(known, value) click hands the function when the option is not given: its default cast by its type
        (`default="3"` of an int option is 3), for the plain types only (casting a File or Path default could
        open or stat something); unknown for a callable default (decided when the command runs), a required
        option, or a default the type rejects."""
        if callable(default) or param.required:
            return False, None
        if default is None:
            return True, () if getattr(param, "multiple", False) else None
        if type_name not in ("int", "float", "bool", "str"):  # a File or Path: casting could open or stat it
            return not isinstance(default, str), default
        try:
            value = param.type_cast_value(click.Context(command), default)
        except Exception:
            return False, None
        return True, value

    base.main = main


# --- tuner.flags() ------------------------------------------------------------------------------------------
def tuner_dump(specs):
    types = {"numeric": "float", "integer": "int", "boolean": "bool", "string": "str"}
    # the declared default as flags() types it (it records the final values itself once the run starts)
    def typed(spec):
        default = spec.default
        if spec.type == "numeric" and type(default) is int:
            return float(default)
        if spec.type == "integer" and type(default) is float and default.is_integer():
            return int(default)
        return default

    dump("tuner", [_with_value({"name": "--" + s.name, "options": ["--" + s.name], "dest": s.name,
                                "type": types.get(s.type, s.type),
                                "default": _jsonable(s.default), "choices": None, "help": s.description,
                                "kind": "valued", "nargs": None, "required": False}, True, typed(s))
                   for s in specs])


_patch_absl()
_patch_click()
os.environ[ENV_DISCOVER_FLAGS] = OUT
sys.modules["__tuner_discover__"] = sys.modules[__name__]
sys.argv = [SCRIPT]
sys.path[0] = os.path.dirname(os.path.abspath(SCRIPT))
runpy.run_path(SCRIPT, run_name="__main__")
