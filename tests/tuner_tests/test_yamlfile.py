"""tuner.yamlfile reads a large generated grid without PyYAML (its fast path) and must read it exactly as the
real Loader does: same values, same types, same errors. Each document here is padded past the size where the
fast path starts, and compared with yaml.load(..., Loader=yamlfile.Loader) on the same text."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import yaml

from tuner import yamlfile

#: scalars whose type is decided by the YAML 1.2 rule (tuner.values): every branch of it
TOKENS = ["0", "7", "-3", "+5", "-0", "007", "-01", "1_000", "12", "0.5", ".5", "5.", "1e-3", "1E5", "-2.5e+3",
          "+.5", ".inf", "-.inf", "+.Inf", ".nan", ".NaN", "inf", "-Infinity", "nan", "NaN", "NAN", "true",
          "False", "TRUE", "yes", "off", "null", "Null", "~", "~x", "0x1F", "1.0.0", "a-b", "-a", "x.y", "+",
          ".", "relu", "adam_w", "3d", "e5"]


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _pad(text: str) -> str:
    """`text` after a large block list, so yamlfile.load takes its fast path when the shape allows."""
    return "pad:\n" + "".join(f"  - {i}\n" for i in range(4000)) + text


def _both(text: str) -> tuple[Any, Any]:
    return yamlfile.load(text), yaml.load(text, Loader=yamlfile.Loader)  # noqa: S506 - a SafeLoader subclass


def test_the_fast_path_is_taken_for_a_large_grid() -> None:
    text = _pad("lr: [0.1, 1e-3]\n")
    assert yamlfile._load_simple(text) is not yamlfile._NOT_SIMPLE
    assert yamlfile.load(text)["lr"] == [0.1, 0.001]


@pytest.mark.parametrize("seed", range(20))
def test_random_grids_read_the_same_as_the_real_loader(seed: int) -> None:
    rng = random.Random(seed)
    entries = []
    for index in range(rng.randint(1, 6)):
        name = rng.choice(["lr", "batch-size", "drop.out", "_units", "Act"]) + str(index)
        shape = rng.choice(["block", "flow", "scalar", "empty"])
        tokens = [rng.choice(TOKENS) for _ in range(rng.randint(1, 12))]
        if shape == "block":
            indent = " " * rng.choice([0, 2, 4])
            entries.append(f"{name}:\n" + "".join(f"{indent}- {t}{' ' * rng.randint(0, 1)}\n" for t in tokens))
        elif shape == "flow":
            entries.append(f"{name}: [" + rng.choice([",", ", ", " , "]).join(tokens) + "]\n")
        elif shape == "scalar":
            entries.append(f"{name}: {tokens[0]}\n")
        else:
            entries.append(f"{name}:\n")
    text = _pad("".join(entries))
    assert yamlfile._load_simple(text) is not yamlfile._NOT_SIMPLE, text[-300:]
    fast, real = _both(text)
    assert _same(fast, real), (fast, real)


def test_each_token_types_as_the_real_loader_does() -> None:
    text = _pad("block:\n" + "".join(f"- {t}\n" for t in TOKENS) + "flow: [" + ", ".join(TOKENS) + "]\n")
    fast, real = _both(text)
    assert _same(fast, real)
    assert fast["block"][:3] == [0, 7, -3] and fast["block"][5] == "007" and fast["block"][7] == "1_000"


@pytest.mark.parametrize("items", [
    ["0.5", ".5", "5.", "-2.5e+3", "1E5", "+.5", "1e-3", "-0.0", "007.5", "1.e5"],  # all floats: read by float()
    # with ints and zero-padded strings among them: those typed one by one
    ["1", "0.5", "1"], ["0.5", "007", "2", "-0", "+3", "00"], ["0.5", ".inf"], ["0.5", "nan"], ["0.5", "1.2.3"], ["0.5", "e5"], ["0.5", "-"],
    ["0.5", "1_0.5"], ["0.5", "+"], ["0.5", "."],
])
def test_a_list_of_floats_reads_as_the_real_loader_does(items: list[str]) -> None:
    fast, real = _both(_pad("lr:\n" + "".join(f"  - {i}\n" for i in items)))
    assert _same(fast, real) and _same(fast["lr"], real["lr"]), (fast["lr"], real["lr"])


@pytest.mark.parametrize("block", ["  -  1\n  - 2\n", "  - 1  \n  - 2\n", "- 1\n-   -2\n", "    - x\n    - 3\n"])
def test_other_spacing_of_a_block_list_reads_the_same(block: str) -> None:
    """The usual `<indent>- value` lines are read by counting prefixes; any other spacing YAML allows still
    takes the fast path, by matching each line."""
    text = _pad("a:\n" + block + "b: [1]\n")
    assert yamlfile._load_simple(text) is not yamlfile._NOT_SIMPLE
    fast, real = _both(text)
    assert _same(fast, real) and fast["b"] == [1]


@pytest.mark.parametrize("items", [["1", "007", "2"], ["3", "1_000"], ["-01", "4"], ["+5", "-0", "12"]])
def test_a_list_of_integers_keeps_what_yaml_reads_as_text(items: list[str]) -> None:
    fast, real = _both(_pad("n:\n" + "".join(f"  - {i}\n" for i in items)))
    assert _same(fast, real) and _same(fast["n"], real["n"])


@pytest.mark.parametrize("tail", [
    "a: 1  # a comment\n", "a: 'quoted'\n", 'a: "1"\n', "a: [1, [2]]\n", "a: []\n", "a: [1, 2,]\n",
    "a:\n  - - 1\n", "a:\n  b: 1\n", "true: 1\n", "1: x\n", "a: &x 1\nb: *x\n", "a:\n\n  - 1\n", "a: 1\r\n",
    "a:\n\t- 1\n", "a: x y\n", "a: 12:30\n", "a:1\n", "--- \na: 1\n", "a:\n  -\n", "a: b: c\n", "a: é\n",
    "a: !!str 1\n", "pad2:\n  - 1\n    - 2\n", "a:\n  - 1\n - 2\n", "a:\n    - 1\n  - 2\n", "a: 1\na: 2\n",
    "pad: 1\n", "a:\n  - 1\n  - --x\n", "a:\n  - 1\n- 2\n", "a:\n  - 1 # c\n", "a:\n  - 1\n  - \n",
    "a:\n  - 1\n  -x\n", "a:\n  - 1\n  - a:b\n", "a:\n  - 1\n---\n",
])
def test_anything_else_reads_the_same_or_fails_the_same(tail: str) -> None:
    text = _pad(tail)
    assert yamlfile._load_simple(text) is yamlfile._NOT_SIMPLE
    try:
        real = yaml.load(text, Loader=yamlfile.Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        with pytest.raises(type(exc)) as caught:
            yamlfile.load(text)
        assert yamlfile.describe_error(caught.value) == yamlfile.describe_error(exc)
        return
    assert _same(yamlfile.load(text), real)


def test_a_duplicate_flag_in_a_large_file_is_named_with_its_lines() -> None:
    with pytest.raises(yamlfile.DuplicateKeyError) as caught:
        yamlfile.load(_pad("lr: [1, 2]\nlr: [3]\n"))
    assert str(caught.value) == "line 4003: duplicate key 'lr' (first on line 4002)"
