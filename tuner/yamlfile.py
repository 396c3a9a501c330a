"""The one YAML loader: grid files, flags files, settings. Safe, YAML 1.2 core types (tuner.values), and a
key given twice is an error naming both lines, in every file.

PyYAML's C parser is used where it is installed (a 10^6-value grid parses ~10x faster); type resolution
and construction stay in Python, so both loaders read a file the same way.

Bounded: what aliases add to a document (`*a` repeats the node anchored `&a`, so 300 bytes of nested aliases
stand for 10^9 values, a "billion laughs") may not exceed ALIAS_BUDGET, checked on the composed nodes before
anything is built; a document nested past what the parser or Python's stack allows is refused the same way.
Both are a YAMLError (one line), never a traceback, a 500 MB message or a process that grows until it dies.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from tuner import values
from tuner.errors import TunerError


def __getattr__(name: str) -> Any:
    """`Loader` and `DuplicateKeyError` are made on first use (PEP 562): PyYAML's import is ~30 ms of every
    process that imports tuner (every trial does, through tuner.flags), and most never read YAML."""
    if name in ("Loader", "DuplicateKeyError", "BoundsError"):
        return _yaml_types()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.lru_cache(maxsize=None)
def _yaml_types() -> dict[str, Any]:
    import yaml

    base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class DuplicateKeyError(yaml.YAMLError):
        def __init__(self, key: Any, line: int, first_line: int) -> None:
            super().__init__(f"line {line}: duplicate key '{key}' (first on line {first_line})")
            self.key, self.line, self.first_line = key, line, first_line

    class BoundsError(yaml.YAMLError):
        """The document is past what tuner reads: aliases that expand it too far, or nesting too deep."""

    class Loader(base):
        """safe_load with YAML 1.2 core scalars (`1e-3` a float; `yes`, `12:30`, `0x1F`, `001` strings) and
        duplicate keys rejected."""

        yaml_implicit_resolvers: dict[str, list[Any]] = {}

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: let PyYAML say so
                    break
                if first is not None:
                    raise DuplicateKeyError(key, key_node.start_mark.line + 1, first + 1)
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    Loader.yaml_implicit_resolvers = {}
    for tag, pattern, first in (
            ("null", values.NULL, ["~", "n", "N", ""]), ("bool", values.BOOL, list("tTfF")),
            ("int", values.INT, list("-+0123456789")), ("float", values.FLOAT, list("-+0123456789.iInN"))):
        Loader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", pattern, first)
    Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])
    Loader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: values.parse_value(node.value))
    # parse_plain, not int(): an integer past Python's digit limit for int() (4300) stays text, as typed
    Loader.add_constructor("tag:yaml.org,2002:int", lambda loader, node: values.parse_plain(node.value))
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, Loader.construct_mapping)
    return {"Loader": Loader, "DuplicateKeyError": DuplicateKeyError, "BoundsError": BoundsError}


#: what aliases may add to a document, in nodes plus scalar characters (each place an alias puts its node counts
#: that node's whole size again): 100 KB of repeated text is far beyond any grid or settings file that uses an
#: anchor, and far below what makes building, checking or printing the values slow
ALIAS_BUDGET = 100_000


def _check_aliases(root: Any, budget: int = ALIAS_BUDGET) -> None:
    """Refuse a composed document whose aliases expand it past `budget` (see ALIAS_BUDGET), or that holds itself
    (`&a [*a]`: no grid, flag or setting is infinite). Each node's expanded size is computed once, iteratively (no
    nesting overflows the stack): one pass over the distinct nodes, never over the expansion; a collection's
    scalars are sized as it is opened and summed in C (most nodes of a large grid are scalars)."""
    import yaml

    error, scalar_node, mapping_node = _yaml_types()["BoundsError"], yaml.ScalarNode, yaml.MappingNode
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    distinct = 0
    stack: list[tuple[Any, list[Any] | None]] = [(root, None)]
    if root.__class__ is scalar_node:
        return
    while stack:
        node, items = stack.pop()
        if items is not None:  # its children are sized: its own size
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(map(sizes.__getitem__, map(id, items)))
            distinct += 1
            continue
        if id(node) in sizes:
            continue
        items = [n for pair in node.value for n in pair] if node.__class__ is mapping_node else node.value
        open_nodes.add(id(node))
        stack.append((node, items))
        for child in items:
            key = id(child)
            if key in sizes:
                continue
            if child.__class__ is scalar_node:
                sizes[key] = size = 1 + len(child.value)
                distinct += size
            elif key in open_nodes:
                raise error(f"line {child.start_mark.line + 1}: an alias refers to a list or mapping that holds "
                            "it (a value that contains itself); write the values out")
            else:
                stack.append((child, None))
    if sizes[id(root)] - distinct > budget:
        raise error(f"aliases (*name) expand the document past {budget:,} values and characters more than it holds "
                    "(a YAML \"alias bomb\"?); write the values out, or use fewer aliases")


#: an anchor (`&name`) and an alias (`*name`) as YAML writes them (after a space, a line start or a flow indicator):
#: a document without both cannot expand, and is not walked (one scan in C; an `&` inside a quoted note is skipped)
_ANCHOR_TOKEN = r"(?:^|[\s\[{,:])&[^\s\[\]{},]"
_ALIAS_TOKEN = r"(?:^|[\s\[{,:])\*[^\s\[\]{},]"


def _may_expand(text: Any) -> bool:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return re.search(_ANCHOR_TOKEN, text, re.M) is not None and re.search(_ALIAS_TOKEN, text, re.M) is not None


def load(text: Any) -> Any:
    """Parse YAML text (or a stream) with the project's Loader; raises yaml.YAMLError subclasses."""
    if hasattr(text, "read"):
        text = text.read()
    if isinstance(text, str) and len(text) >= _SIMPLE_MIN_CHARS:
        simple = _load_simple(text)
        if simple is not _NOT_SIMPLE:
            return simple
    loader = _yaml_types()["Loader"](text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _may_expand(text):
            _check_aliases(node)
        return loader.construct_document(node)
    except RecursionError:  # nested deeper than the parser's own limit lets Python build (a mapping in a mapping ...)
        raise _yaml_types()["BoundsError"]("the document is nested too deeply to read; at most a few hundred "
                                           "levels") from None
    finally:
        loader.dispose()


#: below this a file parses in milliseconds either way, and the real loader reads it
_SIMPLE_MIN_CHARS = 20_000
_NOT_SIMPLE = object()
#: a plain scalar that means the same in block and flow context: no spaces, quotes, commas, brackets, `#`, `:`
_TOKEN = r"(?:[A-Za-z0-9_.+~]|-(?=[A-Za-z0-9_.+~]))[A-Za-z0-9_.+~-]*"
#: one top-level entry's line: `name:` with a scalar, a flow list or nothing after it
_ENTRY = rf"""([A-Za-z_][A-Za-z0-9_.-]*):
                         (?:\ +({_TOKEN}|\[\ *{_TOKEN}(?:\ *,\ *{_TOKEN})*\ *\]))?\ *\n"""
#: where the lines under an entry (its block list, checked by _block_tokens) end: the first line that does not
#: start with a space or a dash, found from the newline before it (a literal scan, not a match per line)
_BLOCK_END = r"\n(?![\ -])"
#: a block list: `- value` items, all at one indentation (as YAML requires)
_BLOCK = rf"(?P<indent>\ *)-\ +{_TOKEN}\ *\n(?:(?P=indent)-\ +{_TOKEN}\ *\n)*"
_ITEM = rf"-\ +({_TOKEN})"
#: a character no _TOKEN holds, and a value starting with a dash that _TOKEN does not allow (`-`, `--x`)
_NOT_TOKEN_CHAR = r"[^A-Za-z0-9_.+~\n-]"
_BAD_DASH = r"\n-(?![A-Za-z0-9_.+~])"
#: what int() reads but YAML 1.2 (tuner.values) keeps as text: `007`, `1_000` (in "\nv1\nv2\n")
_NOT_INT_VALUE = r"_|\n[-+]?0[0-9]"
_FLOW_SPLIT = r" *, *"
#: (patterns are compiled on first use, from re's cache after that: every trial imports this module)


def _ints(tokens: list[str], lined: str) -> list[int] | None:
    """All the tokens as integers, if each is one by the values rule (int() in C, ~4x faster than typing each);
    `lined` holds the tokens each after a newline. int() first: it stops at a list's first float, where the scan
    for what it reads but the rule does not would cross the whole list."""
    try:
        ints = list(map(int, tokens))
    except ValueError:
        return None
    return None if re.search(_NOT_INT_VALUE, lined) else ints


#: a character no decimal number holds (so no inf / nan spelling either), and a value without a point or an exponent
#: (an int, or a zero-padded string)
_NOT_NUMBER_CHAR = r"[^0-9.eE+\n-]"
_NOT_FLOAT_VALUE = r"\n[-+]?[0-9]+(?=\n)"


def _numbers(tokens: list[str], lined: str) -> list[Any] | None:
    """All the tokens as numbers, if each is a decimal one by the values rule (`0.5`, `1e-3`, `-.5`, `1`): float()
    in C, ~10x faster than typing each, then the few without a point or an exponent typed one by one (`1` an int,
    `007` a string). With only these characters, float() accepts exactly what the rule's FLOAT pattern does
    (`1.2.3`, `e5`, `-` raise)."""
    if re.search(_NOT_NUMBER_CHAR, lined):
        return None
    try:
        numbers: list[Any] = list(map(float, tokens))
    except ValueError:
        return None
    index, last = 0, 0
    for match in re.finditer(_NOT_FLOAT_VALUE, lined):  # token k follows the k-th newline of `lined`
        index += lined.count("\n", last, match.start())
        last = match.start()
        numbers[index] = values.parse_plain(tokens[index])
    return numbers


def _block_tokens(block: str) -> tuple[list[str], str] | None:
    """The values of a block list and the same as "\nv1\nv2\n", or None when it is not one of plain values.

    The usual generated shape (every line `<indent>- value`, one space after the dash, nothing after the value)
    is checked by counting and replacing the line prefix and one scan for a character no value may hold: about
    5x faster than matching each line with _BLOCK, which reads every other spacing _BLOCK allows."""
    dash = block.find("-")
    prefix = "\n" + block[:dash + 2]
    if dash >= 0 and not block[:dash].strip(" ") and prefix.endswith("- "):
        lined = "\n" + block
        if lined.count(prefix) == block.count("\n"):  # every line starts with the prefix
            rest = lined.replace(prefix, "\n")  # "\nv1\nv2\n"
            if ("\n\n" not in rest and re.search(_NOT_TOKEN_CHAR, rest) is None
                    and re.search(_BAD_DASH, rest) is None):
                return rest[1:-1].split("\n"), rest
    if re.fullmatch(_BLOCK, block, re.X) is None:
        return None
    tokens = re.findall(_ITEM, block, re.X)
    return tokens, "\n" + "\n".join(tokens) + "\n"


def _load_simple(text: str) -> Any:
    """The shape a generated grid has, read without PyYAML: top-level `name:` keys, each with one plain scalar,
    a flow list `[a, b]` or a block list of `- value` lines, and nothing else (no comments, blank lines, quotes,
    anchors, tabs, nesting, documents). libyaml's Python binding spends ~5 s per million scalars before any
    typing; this reads a 10^6-value grid in 0.3-0.5 s. Every scalar is typed by tuner.values.parse_plain,
    the rule the Loader's resolvers apply, and anything outside the shape (a duplicate key too, for the Loader
    to name) goes to the real loader: tests/tuner_tests/test_yamlfile.py checks that both read the same."""
    if not text.endswith("\n"):
        text += "\n"
    data: dict[Any, Any] = {}
    parse = values.parse_plain
    position = 0
    entry, block_end = re.compile(_ENTRY, re.X), re.compile(_BLOCK_END)
    while position < len(text):
        match = entry.match(text, position)
        if match is None:
            return _NOT_SIMPLE
        end = block_end.search(text, match.end() - 1)
        position = end.start() + 1 if end is not None else len(text)
        name, scalar = match.group(1, 2)
        block = text[match.end():position]
        key = parse(name)
        if key in data or not isinstance(key, str) or scalar is not None and block:
            return _NOT_SIMPLE
        if block:
            found = _block_tokens(block)
            if found is None:
                return _NOT_SIMPLE
            tokens, lined = found
            data[key] = _ints(tokens, lined)
            if data[key] is None:
                data[key] = _numbers(tokens, lined)
            if data[key] is None:
                data[key] = list(map(parse, tokens))
        elif scalar is None:
            data[key] = None  # `name:` with nothing under it
        elif scalar[0] == "[":
            data[key] = list(map(parse, re.split(_FLOW_SPLIT, scalar[1:-1].strip())))
        else:
            data[key] = parse(scalar)
    return data if data else _NOT_SIMPLE


def describe_error(exc: Exception) -> str:
    """One line for a yaml.YAMLError: `YAML syntax error at line 3, column 5: <problem>` or `line 4: duplicate
    key 'lr' (first on line 2)`."""
    import yaml

    if isinstance(exc, (_yaml_types()["DuplicateKeyError"], _yaml_types()["BoundsError"])):
        return str(exc)
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return f"YAML syntax error: {exc}"


def parse_yaml_mapping(text: Any, where: str, error: type[TunerError], example: str) -> dict[str, Any]:
    """`text` as a mapping (empty text is an empty mapping); anything else raises `error` naming `where`."""
    import yaml

    try:
        data = load(text)
    except yaml.YAMLError as exc:
        raise error(f"{where}: not valid YAML ({describe_error(exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{where}: expected a mapping of {example}, got {type(data).__name__}")
    return data


def read_yaml_mapping(path: str, error: type[TunerError], example: str, label: str = "file") -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a text file"
        raise error(f"{label} '{path}' cannot be read: {reason}") from None
    return parse_yaml_mapping(text, path, error, example)
